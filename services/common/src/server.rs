//! The server: where it listens, how it logs, and how it stops.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use axum::Router;
use tokio::net::TcpListener;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

/// The port a service listens on when `PORT` is not set (the task definitions' container port).
pub const DEFAULT_PORT: u16 = 8080;

/// The port to listen on, from the value of `PORT` (unset or blank: [`DEFAULT_PORT`]).
pub fn port_from(value: Option<&str>) -> Result<u16, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(DEFAULT_PORT),
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => Ok(port),
            _ => Err(format!("PORT must be a TCP port (1 to 65535), got `{text}`")),
        },
    }
}

/// Logs as one JSON object per line on stdout (what the `awslogs` driver ships to CloudWatch), at
/// the level `RUST_LOG` says (default `info`). Does nothing if logging is already set up.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // An error only means a subscriber is already installed (e.g. by a test): keep that one.
    let _already_installed = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .try_init();
}

/// Resolves when the process is asked to stop: SIGTERM (what ECS sends before it stops a task,
/// after the load balancer has drained it) or Ctrl-C.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => info!("interrupted: finishing the requests in flight, then stopping"),
        () = terminate => info!("SIGTERM: finishing the requests in flight, then stopping"),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting connections and
/// returns once the requests in flight are answered.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Runs the service `name`: listens on all IPv4 addresses on `PORT` (default 8080) and serves
/// `app` until SIGTERM. The exit code says whether it stopped cleanly.
pub async fn run(name: &str, app: Router) -> ExitCode {
    let port = match std::env::var("PORT") {
        Ok(value) => port_from(Some(&value)),
        Err(std::env::VarError::NotPresent) => port_from(None),
        Err(std::env::VarError::NotUnicode(_)) => Err("PORT is not valid UTF-8".to_owned()),
    };
    let port = match port {
        Ok(port) => port,
        Err(problem) => {
            error!(service = name, "{problem}");
            return ExitCode::FAILURE;
        }
    };
    let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            error!(service = name, %address, %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    info!(service = name, %address, version = env!("CARGO_PKG_VERSION"), "listening");
    match serve(listener, app, shutdown_signal()).await {
        Ok(()) => {
            info!(service = name, "stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            error!(service = name, %error, "the server failed");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    #[test]
    fn port_defaults_to_8080_and_must_be_a_port() {
        assert_eq!(port_from(None), Ok(8080));
        assert_eq!(port_from(Some(" ")), Ok(8080));
        assert_eq!(port_from(Some("3000")), Ok(3000));
        assert_eq!(port_from(Some(" 3000\n")), Ok(3000));
        for bad in ["0", "65536", "http", "-1"] {
            assert_eq!(port_from(Some(bad)), Err(format!("PORT must be a TCP port (1 to 65535), got `{bad}`")));
        }
    }

    /// A real server on a loopback port: it answers, and it returns once told to stop.
    #[tokio::test]
    async fn serves_over_tcp_until_told_to_stop() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, crate::app(Router::new()), async {
            let _ = stopped.await;
        }));

        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");

        stop.send(()).unwrap();
        let result = tokio::time::timeout(std::time::Duration::from_secs(10), server).await;
        assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
    }
}
