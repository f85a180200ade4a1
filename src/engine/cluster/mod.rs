//! Where dq's queries run: in this process (`engine: local`, the default), or on an Apache
//! DataFusion Ballista cluster (`engine: { ballista: "df://scheduler:50050" }`).
//!
//! On a cluster the client still lists each dataset and reads its footers (the facts a
//! report states), then ships every query as a logical plan to the scheduler, which splits
//! it into stages for the executors. A dataset travels as the explicit list of its files
//! ([`codec`]), so the executors read exactly the files the client chose — hidden files
//! skipped, partitions pruned, a Delta snapshot's files — never a listing of their own.
//! `dq scheduler` and `dq executor` ([`node`]) run Ballista's processes with dq's codec,
//! functions and object stores, so every node reads what the client would.

use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;

use crate::error::DqError;

pub mod codec;
pub mod node;
pub mod progress;
pub mod watchdog;

/// The name of this process's jobs on a cluster: the progress line finds them by it.
pub fn job_name() -> String {
    format!("dq-{}", std::process::id())
}

/// The port a Ballista scheduler listens on unless told otherwise.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// How long a run waits for progress after losing an executor, unless configured.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Where queries run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// In this process.
    Local,
    /// On the Ballista cluster whose scheduler listens at `host:port`.
    Ballista {
        host: String,
        port: u16,
        /// How long the scheduler may take to answer before the run ends with exit 3.
        connect_timeout: Duration,
        /// How long a run may go without progress after losing an executor before it
        /// ends with exit 3 (see [`watchdog`]).
        stall_timeout: Duration,
    },
    /// On a Ballista scheduler and executor started inside this process: the cluster's
    /// plans, codecs and data exchange without a cluster (for trying rules and for tests).
    Standalone,
}

impl Engine {
    /// `local`, `standalone`, or a scheduler's address (`df://host:port`, `host:port`).
    pub fn parse(text: &str, connect_timeout: Duration) -> Result<Engine, String> {
        let text = text.trim();
        match text {
            "local" => return Ok(Engine::Local),
            "standalone" => return Ok(Engine::Standalone),
            _ => {}
        }
        let address = text.strip_prefix("df://").unwrap_or(text);
        if address.contains("://") {
            return Err(format!(
                "engine `{text}`: a Ballista scheduler is `df://host:port` (or `local`, `standalone`)"
            ));
        }
        let address = address.trim_end_matches('/');
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("engine `{text}`: `{port}` is not a port number"))?,
            ),
            None => (address, DEFAULT_SCHEDULER_PORT),
        };
        if host.is_empty() {
            return Err(format!("engine `{text}`: the scheduler's host is missing"));
        }
        Ok(Engine::Ballista {
            host: host.to_string(),
            port,
            connect_timeout,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        })
    }

    /// The same engine, waiting `stall` for progress after an executor is lost.
    pub fn with_stall_timeout(self, stall: Duration) -> Engine {
        match self {
            Engine::Ballista {
                host,
                port,
                connect_timeout,
                ..
            } => Engine::Ballista {
                host,
                port,
                connect_timeout,
                stall_timeout: stall,
            },
            other => other,
        }
    }

    /// Whether queries leave this process (and must therefore be plans a cluster can run).
    pub fn is_distributed(&self) -> bool {
        !matches!(self, Engine::Local)
    }

    /// How the report names it.
    pub fn describe(&self) -> String {
        match self {
            Engine::Local => "local".into(),
            Engine::Ballista { host, port, .. } => format!("ballista df://{host}:{port}"),
            Engine::Standalone => "ballista standalone (in-process)".into(),
        }
    }
}

/// A session whose queries run on `engine`, configured as dq's local session is (see
/// [`super::session`]) so that a cluster answers exactly what this process would.
pub async fn session(
    engine: &Engine,
    memory_limit: Option<usize>,
) -> Result<SessionContext, DqError> {
    let local = super::session(memory_limit)?;
    match engine {
        Engine::Local => Ok(local),
        Engine::Ballista {
            host,
            port,
            connect_timeout,
            ..
        } => {
            answers(host, *port, *connect_timeout).await?;
            let state = client_state(&local);
            SessionContext::remote_with_state(&format!("df://{host}:{port}"), state)
                .await
                .map_err(|e| {
                    DqError::Runtime(format!(
                        "Ballista scheduler df://{host}:{port}: {}",
                        super::clean_error(&e)
                    ))
                })
        }
        Engine::Standalone => {
            let state = client_state(&local);
            SessionContext::standalone_with_state(state)
                .await
                .map_err(|e| {
                    DqError::Runtime(format!(
                        "cannot start the in-process Ballista cluster: {}",
                        super::clean_error(&e)
                    ))
                })
        }
    }
}

/// The local session's configuration, runtime and functions, with dq's plan codec.
fn client_state(local: &SessionContext) -> datafusion::execution::SessionState {
    let state = local.state();
    let config = state
        .config()
        .clone()
        .with_ballista_logical_extension_codec(Arc::new(codec::DqLogicalCodec::default()))
        .with_ballista_job_name(&job_name());
    SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build()
}

/// The scheduler accepts a connection within `timeout`, or the run ends with exit 3: a
/// scheduler that is down must not turn into a hang or a retry loop.
async fn answers(host: &str, port: u16, timeout: Duration) -> Result<(), DqError> {
    let address = format!("{host}:{port}");
    let failure = |why: String| {
        DqError::Runtime(format!(
            "the Ballista scheduler at df://{address} does not answer ({why}); start it with `dq scheduler`, or run with `--engine local`"
        ))
    };
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(failure(e.to_string())),
        Err(_) => Err(failure(format!(
            "no connection within {}",
            crate::duration::format_duration(timeout)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_parse_from_their_names_and_addresses() {
        let t = Duration::from_secs(5);
        assert_eq!(Engine::parse("local", t).unwrap(), Engine::Local);
        assert_eq!(Engine::parse("standalone", t).unwrap(), Engine::Standalone);
        assert_eq!(
            Engine::parse("df://scheduler:50051", t).unwrap(),
            Engine::Ballista {
                host: "scheduler".into(),
                port: 50051,
                connect_timeout: t,
                stall_timeout: DEFAULT_STALL_TIMEOUT
            }
        );
        assert_eq!(
            Engine::parse("10.0.0.7", t).unwrap(),
            Engine::Ballista {
                host: "10.0.0.7".into(),
                port: DEFAULT_SCHEDULER_PORT,
                connect_timeout: t,
                stall_timeout: DEFAULT_STALL_TIMEOUT
            }
        );
        assert!(
            Engine::parse("http://x:1", t)
                .unwrap_err()
                .contains("df://")
        );
        assert!(
            Engine::parse("df://x:port", t)
                .unwrap_err()
                .contains("port")
        );
        assert!(Engine::parse("df://:1", t).is_err());
    }
}
