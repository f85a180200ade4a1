//! Progress of a run's jobs on the cluster, for the terminal's progress line.
//!
//! Every query of a run is one Ballista job named after the run; the scheduler's REST API
//! (served on its gRPC port) lists jobs with their stages, and each job's stages with
//! their tasks. Reading it is best effort: a scheduler that does not answer simply shows
//! no cluster progress, it never fails a run.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Stages and tasks of the run's running jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobsProgress {
    pub running_jobs: usize,
    pub stages_done: usize,
    pub stages: usize,
    pub tasks_done: usize,
    pub tasks: usize,
}

impl JobsProgress {
    /// `2 jobs · stages 3/5 · tasks 17/40`, or None when nothing runs.
    pub fn describe(&self) -> Option<String> {
        (self.running_jobs > 0).then(|| {
            format!(
                "{} job{} · stages {}/{} · tasks {}/{}",
                self.running_jobs,
                if self.running_jobs == 1 { "" } else { "s" },
                self.stages_done,
                self.stages,
                self.tasks_done,
                self.tasks
            )
        })
    }
}

/// The raw response to `method path` on the scheduler, or None when it does not answer
/// within two seconds.
async fn exchange(host: &str, port: u16, method: &str, path: &str) -> Option<Vec<u8>> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        Some(response)
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()?
}

/// Sends `method path` to the scheduler and ignores the answer (best effort).
pub(super) async fn send_request(host: &str, port: u16, method: &str, path: &str) {
    let _ = exchange(host, port, method, path).await;
}

/// The JSON body of `GET path` on the scheduler, or None.
pub(super) async fn get_json(host: &str, port: u16, path: &str) -> Option<serde_json::Value> {
    let response = exchange(host, port, "GET", path).await?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") && !head.starts_with("http/1.0 200") {
        return None;
    }
    let body = &response[split + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    serde_json::from_slice(&body).ok()
}

/// The body of a chunked HTTP/1.1 response.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// Progress of the running jobs named `job_name` on the scheduler at `host:port`.
pub async fn jobs_progress(host: &str, port: u16, job_name: &str) -> Option<JobsProgress> {
    let jobs = get_json(host, port, "/api/jobs").await?;
    let mut progress = JobsProgress::default();
    for job in jobs.as_array()? {
        let status = job["status"].as_str().unwrap_or_default();
        if job["job_name"].as_str() != Some(job_name) || !matches!(status, "Running" | "Queued") {
            continue;
        }
        progress.running_jobs += 1;
        progress.stages += job["num_stages"].as_u64().unwrap_or(0) as usize;
        progress.stages_done += job["completed_stages"].as_u64().unwrap_or(0) as usize;
        let Some(id) = job["job_id"].as_str() else {
            continue;
        };
        if let Some(stages) = get_json(host, port, &format!("/api/job/{id}/stages")).await {
            for stage in stages["stages"].as_array().into_iter().flatten() {
                for task in stage["tasks"].as_array().into_iter().flatten() {
                    progress.tasks += 1;
                    if task["status"] == "Successful" {
                        progress.tasks_done += 1;
                    }
                }
            }
        }
    }
    Some(progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        let body = b"4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        assert_eq!(dechunk(body).unwrap(), b"{\"a\":1}");
        assert!(dechunk(b"zz\r\n").is_none());
    }

    #[test]
    fn progress_reads_like_a_sentence() {
        assert_eq!(JobsProgress::default().describe(), None);
        let p = JobsProgress {
            running_jobs: 2,
            stages_done: 3,
            stages: 5,
            tasks_done: 17,
            tasks: 40,
        };
        assert_eq!(p.describe().unwrap(), "2 jobs · stages 3/5 · tasks 17/40");
    }
}
