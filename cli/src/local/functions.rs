//! deltaship's Lambda functions, in process: each function of [`deltaship_aws::FUNCTIONS`] built
//! the way its Lambda bin builds it ([`deltaship_aws::Function`]), from a table of variables in
//! place of its environment, and called by name.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use deltaship_aws::settings::{SettingsError, Source};
use deltaship_aws::{AnyFunction, FUNCTIONS};
use deltaship_core::Failure;
use serde_json::Value;

/// Environment variables, as the SAM template would set them.
#[derive(Debug, Clone, Default)]
pub struct Variables(pub BTreeMap<String, String>);

impl Source for Variables {
    fn get(&self, variable: &str) -> Option<String> {
        self.0.get(variable).cloned()
    }
}

/// One instance of each function, by its name.
#[derive(Debug)]
pub struct Functions(BTreeMap<&'static str, Box<dyn AnyFunction>>);

impl Functions {
    /// Every function with clients from `config` and its settings from `variables`.
    pub fn new(config: &SdkConfig, variables: &Variables) -> Result<Self, SettingsError> {
        let functions = FUNCTIONS.iter().map(|entry| Ok((entry.name, entry.build(config, variables)?)));
        Ok(Self(functions.collect::<Result<_, SettingsError>>()?))
    }

    /// Invokes the function `name` (one of [`deltaship_aws::FUNCTIONS`]) with `payload`: its
    /// output, or its failure. `None` if there is no such function.
    pub async fn invoke(&self, name: &str, payload: Value) -> Option<Result<Value, Failure>> {
        Some(self.0.get(name)?.invoke(payload).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(pairs: &[(&str, &str)]) -> Variables {
        Variables(pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect())
    }

    fn config() -> SdkConfig {
        SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build()
    }

    #[tokio::test]
    async fn every_function_is_invoked_by_its_name() {
        let functions = Functions::new(
            &config(),
            &variables(&[
                ("STATE_MACHINE_ARN", "arn:aws:states:eu-west-1:123456789012:stateMachine:deltaship-local-pipeline"),
                ("REPOSITORY_NAME", "shop"),
                ("BRANCHES", "main"),
                ("WAITS_TABLE", "deltaship-local-waits"),
                ("APPROVALS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:deltaship-local-approvals"),
            ]),
        )
        .unwrap();
        for name in deltaship_aws::function::names() {
            let failure = functions.invoke(name, Value::Null).await.unwrap().unwrap_err();
            assert_eq!(failure.kind, deltaship_core::ErrorKind::InvalidInput, "{name}: {failure:?}");
            assert!(failure.message.starts_with(&format!("{name} input")), "{name}: {}", failure.message);
        }
        assert!(functions.invoke("deploy", Value::Null).await.is_none());
    }

    #[test]
    fn a_malformed_variable_is_refused_naming_it() {
        let error = Functions::new(&config(), &variables(&[("DRY_RUN", "true"), ("BUILD_WAIT_MIN_SECONDS", "x")]));
        assert_eq!(error.unwrap_err().variable, "BUILD_WAIT_MIN_SECONDS");
    }
}
