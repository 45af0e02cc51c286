//! AWS partitions: which console and which domain a region's links and registries use.
//!
//! Most regions are in the `aws` partition; China's regions (`cn-*`) are in `aws-cn`, with their
//! own console and the `amazonaws.com.cn` domain; GovCloud's (`us-gov-*`) are in `aws-us-gov`,
//! with their own console (AWS General Reference, "AWS partitions"
//! <https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html>;
//! Amazon ECR, "Private registry" endpoints
//! <https://docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html>; the AWS Management
//! Console in China <https://docs.amazonaws.cn/en_us/aws/latest/userguide/endpoints-Beijing.html>
//! and in GovCloud <https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/using-govcloud-endpoints.html>).

/// An AWS partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// `aws`: the commercial regions.
    Aws,
    /// `aws-cn`: the China regions.
    China,
    /// `aws-us-gov`: AWS GovCloud (US).
    GovCloud,
}

impl Partition {
    /// The partition of a region (`cn-north-1` → China).
    pub fn of_region(region: &str) -> Self {
        if region.starts_with("cn-") {
            Self::China
        } else if region.starts_with("us-gov-") {
            Self::GovCloud
        } else {
            Self::Aws
        }
    }

    /// The partition an ARN names (`arn:<partition>:...`), if it names a known one.
    pub fn of_arn(arn: &str) -> Option<Self> {
        match arn.split(':').nth(1)? {
            "aws" => Some(Self::Aws),
            "aws-cn" => Some(Self::China),
            "aws-us-gov" => Some(Self::GovCloud),
            _ => None,
        }
    }

    /// Its name in ARNs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::China => "aws-cn",
            Self::GovCloud => "aws-us-gov",
        }
    }

    /// The domain of its service endpoints (`AWS::URLSuffix`).
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Self::China => "amazonaws.com.cn",
            Self::Aws | Self::GovCloud => "amazonaws.com",
        }
    }

    /// The console's address for `region` (without a trailing slash).
    pub fn console(self, region: &str) -> String {
        match self {
            Self::Aws => format!("https://{region}.console.aws.amazon.com"),
            Self::China => "https://console.amazonaws.cn".to_owned(),
            Self::GovCloud => "https://console.amazonaws-us-gov.com".to_owned(),
        }
    }
}

/// The host of `account`'s private ECR registry in `region`.
pub fn ecr_registry(account: &str, region: &str) -> String {
    format!("{account}.dkr.ecr.{region}.{}", Partition::of_region(region).dns_suffix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_arns_consoles_and_registries() {
        let table = [
            (
                "eu-west-1",
                Partition::Aws,
                "https://eu-west-1.console.aws.amazon.com",
                "1.dkr.ecr.eu-west-1.amazonaws.com",
            ),
            ("cn-north-1", Partition::China, "https://console.amazonaws.cn", "1.dkr.ecr.cn-north-1.amazonaws.com.cn"),
            (
                "cn-northwest-1",
                Partition::China,
                "https://console.amazonaws.cn",
                "1.dkr.ecr.cn-northwest-1.amazonaws.com.cn",
            ),
            (
                "us-gov-west-1",
                Partition::GovCloud,
                "https://console.amazonaws-us-gov.com",
                "1.dkr.ecr.us-gov-west-1.amazonaws.com",
            ),
        ];
        for (region, partition, console, registry) in table {
            assert_eq!(Partition::of_region(region), partition, "{region}");
            assert_eq!(partition.console(region), console);
            assert_eq!(ecr_registry("1", region), registry);
            let arn = format!("arn:{}:ecs:{region}:1:cluster/x", partition.name());
            assert_eq!(Partition::of_arn(&arn), Some(partition));
        }
        assert_eq!(Partition::of_arn("arn:aws-iso:ecs:x"), None);
        assert_eq!(Partition::of_arn("not an arn"), None);
    }
}
