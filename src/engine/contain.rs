//! Panics inside a dependency (a Parquet decoder meeting a hostile file, say) are caught at
//! the dataset boundary and become that dataset's error, so one bad file never loses the
//! report of every other dataset.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

/// Runs `work`, turning a panic into `Err(message)`.
pub async fn contain<T>(
    what: &str,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(format!(
            "internal error while reading {what}: {} (a bug in dq or a library it uses, met on this input; the file is probably corrupt)",
            panic_message(payload.as_ref())
        )),
    }
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error() {
        let r: Result<(), String> =
            contain("dataset x", async { panic!("index out of range") }).await;
        let e = r.unwrap_err();
        assert!(
            e.contains("dataset x") && e.contains("index out of range"),
            "{e}"
        );
        let ok: Result<i32, String> = contain("dataset x", async { Ok(3) }).await;
        assert_eq!(ok, Ok(3));
    }
}
