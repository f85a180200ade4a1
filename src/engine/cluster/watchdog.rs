//! A run on a cluster ends, whatever happens to the cluster: when an executor is lost and
//! the run's jobs then make no progress for the stall timeout, the run stops with exit 3
//! naming the executor, instead of waiting on a job the scheduler may never finish.
//!
//! Ballista usually runs a lost executor's tasks again elsewhere, and then the jobs move
//! on and the watchdog stays quiet. But a client waits on a running job without a limit,
//! and a job can stay "running" after an executor dies mid-shuffle (its outputs are gone
//! and a reader waits for them). Progress is read from the scheduler's REST API (jobs,
//! stages, tasks); an executor counts as lost when the scheduler no longer lists it or its
//! data port refuses connections — a killed process refuses at once, long before the
//! scheduler's heartbeat timeout notices.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::progress::{get_json, send_request};

/// How often the cluster is looked at.
const POLL: Duration = Duration::from_secs(1);

/// An executor as the scheduler lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Executor {
    id: String,
    address: String,
}

/// The executors the scheduler lists now, or None when it does not answer.
async fn executors(host: &str, port: u16) -> Option<Vec<Executor>> {
    let listed = get_json(host, port, "/api/executors").await?;
    Some(
        listed
            .as_array()?
            .iter()
            .filter_map(|e| {
                Some(Executor {
                    id: e["id"].as_str()?.to_string(),
                    address: format!("{}:{}", e["host"].as_str()?, e["port"].as_u64()?),
                })
            })
            .collect(),
    )
}

/// Whether something accepts connections at `address` (an executor's Flight port).
async fn accepts(address: &str) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(address)
        )
        .await,
        Ok(Ok(_))
    )
}

/// Everything that changes while the run's jobs advance: each job's status and completed
/// stages, and the tasks done in the running ones.
async fn progress_mark(host: &str, port: u16, job_name: &str) -> Option<String> {
    let jobs = get_json(host, port, "/api/jobs").await?;
    let mut mark = String::new();
    for job in jobs.as_array()? {
        if job["job_name"].as_str() != Some(job_name) {
            continue;
        }
        mark.push_str(&format!(
            "{}:{}:{};",
            job["job_id"], job["status"], job["completed_stages"]
        ));
    }
    let tasks = super::progress::jobs_progress(host, port, job_name)
        .await
        .map(|p| p.tasks_done)
        .unwrap_or(0);
    Some(format!("{mark}tasks={tasks}"))
}

/// Asks the scheduler to cancel the run's unfinished jobs (best effort), so that a run
/// that gave up leaves no work behind on the cluster.
async fn cancel_jobs(host: &str, port: u16, job_name: &str) {
    let Some(jobs) = get_json(host, port, "/api/jobs").await else {
        return;
    };
    for job in jobs.as_array().into_iter().flatten() {
        let unfinished = matches!(job["status"].as_str(), Some("Running" | "Queued"));
        if job["job_name"].as_str() == Some(job_name) && unfinished {
            if let Some(id) = job["job_id"].as_str() {
                send_request(host, port, "PATCH", &format!("/api/job/{id}")).await;
            }
        }
    }
}

/// Watches the cluster for the whole run. Never returns while the run can still finish;
/// returns the reason to stop once an executor is lost and the run's jobs have not moved
/// for `stall`.
pub async fn lost_executor(host: String, port: u16, job_name: String, stall: Duration) -> String {
    // Executors seen during the run, by id, and those lost since (with when).
    let mut seen: BTreeMap<String, Executor> = BTreeMap::new();
    let mut lost: BTreeMap<String, (Executor, Instant)> = BTreeMap::new();
    let mut last_mark: Option<String> = None;
    let mut last_progress = Instant::now();
    loop {
        tokio::time::sleep(POLL).await;
        if let Some(listed) = executors(&host, port).await {
            let answers =
                futures::future::join_all(listed.iter().map(|executor| accepts(&executor.address)))
                    .await;
            for (executor, answers) in listed.iter().zip(answers) {
                if !answers && !lost.contains_key(&executor.id) {
                    lost.insert(executor.id.clone(), (executor.clone(), Instant::now()));
                }
                seen.insert(executor.id.clone(), executor.clone());
            }
            for (id, executor) in &seen {
                if !listed.iter().any(|e| &e.id == id) && !lost.contains_key(id) {
                    lost.insert(id.clone(), (executor.clone(), Instant::now()));
                }
            }
        }
        if let Some(mark) = progress_mark(&host, port, &job_name).await {
            if last_mark.as_ref() != Some(&mark) {
                last_mark = Some(mark);
                last_progress = Instant::now();
            }
        }
        let Some((executor, lost_at)) = lost.values().min_by_key(|(_, at)| *at) else {
            continue;
        };
        // The clock starts at the later of the loss and the last progress: the tasks the
        // lost executor held get the whole `stall` to be scheduled again and move.
        let quiet_since = last_progress.max(*lost_at);
        if quiet_since.elapsed() >= stall {
            cancel_jobs(&host, port, &job_name).await;
            let names = lost
                .values()
                .map(|(e, _)| format!("{} at {}", e.id, e.address))
                .collect::<Vec<_>>()
                .join(", ");
            tracing::warn!(lost = %executor.id, "cluster stalled after losing an executor");
            return format!(
                "the cluster lost executor {names} during the run, and the run's jobs made no progress for {} after that; the report would be incomplete, so the run stops (restart the executor, or raise `engine.stall_timeout`)",
                crate::duration::format_duration(stall)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A scheduler's REST API as the watchdog reads it: one executor at `executor_port`,
    /// one running job of `job_name` whose completed stages move only while `moving`;
    /// every request line is recorded.
    async fn scheduler(
        executor_port: u16,
        job_name: &'static str,
        moving: bool,
    ) -> (u16, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let polls = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                seen.lock().unwrap().push(line.clone());
                let body = if line.starts_with("GET /api/executors") {
                    format!(r#"[{{"id":"exec-1","host":"127.0.0.1","port":{executor_port}}}]"#)
                } else if line.starts_with("GET /api/jobs") {
                    let done = if moving {
                        polls.fetch_add(1, Ordering::SeqCst)
                    } else {
                        1
                    };
                    format!(
                        r#"[{{"job_id":"job-7","job_name":"{job_name}","status":"Running","num_stages":9,"completed_stages":{done}}}]"#
                    )
                } else {
                    "{}".to_string()
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        (port, requests)
    }

    /// A port on 127.0.0.1 where nothing listens: a killed executor.
    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn a_lost_executor_and_no_progress_ends_the_run_and_cancels_its_jobs() {
        let dead = closed_port();
        let (port, requests) = scheduler(dead, "dq-test-run", false).await;
        let stall = Duration::from_secs(2);
        let message = tokio::time::timeout(
            Duration::from_secs(20),
            super::lost_executor("127.0.0.1".into(), port, "dq-test-run".into(), stall),
        )
        .await
        .expect("the watchdog gives up after the stall timeout");
        assert!(
            message.contains(&format!("exec-1 at 127.0.0.1:{dead}")),
            "{message}"
        );
        assert!(message.contains("stall_timeout"), "{message}");
        let requests = requests.lock().unwrap();
        assert!(
            requests
                .iter()
                .any(|r| r.starts_with("PATCH /api/job/job-7")),
            "the job is cancelled: {requests:?}"
        );
    }

    #[tokio::test]
    async fn jobs_that_move_on_without_the_executor_are_left_alone() {
        let (port, requests) = scheduler(closed_port(), "dq-test-run", true).await;
        let watched = tokio::time::timeout(
            Duration::from_secs(5),
            super::lost_executor(
                "127.0.0.1".into(),
                port,
                "dq-test-run".into(),
                Duration::from_secs(2),
            ),
        )
        .await;
        assert!(
            watched.is_err(),
            "progress keeps the run going: {watched:?}"
        );
        assert!(
            !requests
                .lock()
                .unwrap()
                .iter()
                .any(|r| r.starts_with("PATCH")),
            "nothing is cancelled"
        );
    }

    #[tokio::test]
    async fn a_live_executor_is_never_lost() {
        // The executor's port accepts connections; the job is stuck, but nothing was lost.
        let executor = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = executor.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = executor.accept().await {
                drop(stream);
            }
        });
        let (port, _) = scheduler(live, "dq-test-run", false).await;
        let watched = tokio::time::timeout(
            Duration::from_secs(4),
            super::lost_executor(
                "127.0.0.1".into(),
                port,
                "dq-test-run".into(),
                Duration::from_secs(1),
            ),
        )
        .await;
        assert!(watched.is_err(), "{watched:?}");
    }
}
