//! The sample lake: a deterministic bronze/silver/gold lake with known defects, small
//! enough to commit (`sample-data/`) and scalable for benchmarks (`--rows 10000000`).
//!
//! Known defects (what `rules/` finds on the committed lake):
//! - bronze.orders_raw: NULL and duplicated order ids, unknown statuses, non-numeric amounts
//!   (failures); bronze.customers_raw: malformed signup dates (warning).
//! - silver.orders: a few orders of customers that do not exist (the one failure), ~0.3%
//!   malformed e-mails and a few three-letter country codes (warnings).
//! - gold: clean; it reconciles with silver.

use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use rayon::prelude::*;

/// The last day with data; the sample environment evaluates at the next midnight.
pub const LAST_DAY: (i32, u32, u32) = (2026, 11, 20);
pub const STATUSES: &[&str] = &["placed", "shipped", "delivered", "cancelled", "returned"];
const COUNTRIES: &[&str] = &["DE", "FR", "NL", "ES", "IT", "GB", "US", "PL", "SE", "BE"];
const CURRENCIES: &[&str] = &["EUR", "EUR", "EUR", "USD", "GBP"];

/// A small, fast, deterministic generator (SplitMix64).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

pub fn write_parquet(path: &Path, batches: &[RecordBatch]) -> Result<(), String> {
    let Some(first) = batches.first() else {
        return Err("nothing to write".into());
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer =
        ArrowWriter::try_new(file, first.schema(), Some(props)).map_err(|e| e.to_string())?;
    for b in batches {
        writer.write(b).map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(())
}

pub(crate) fn ts(values: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

fn ts_opt(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

pub(crate) fn strings(values: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

struct Order {
    order_id: i64,
    customer_id: i64,
    amount: f64,
    currency: &'static str,
    status: &'static str,
    email: Option<String>,
    country: String,
    created_at: i64,
    updated_at: i64,
}

struct Day {
    date: NaiveDate,
    orders: Vec<Order>,
}

fn micros(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_micros())
        .unwrap_or_default()
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    date.signed_duration_since(NaiveDate::default()).num_days() as i32
}

fn email_of(customer: i64) -> String {
    format!("customer{customer}@example.com")
}

fn country_of(customer: i64) -> &'static str {
    COUNTRIES[(customer as usize * 7) % COUNTRIES.len()]
}

/// What was generated, for the caller to print.
#[derive(Debug, Default)]
pub struct Generated {
    pub orders: usize,
    pub customers: usize,
    pub files: usize,
    pub bytes: u64,
}

/// Writes the lake under `out` with `rows` silver orders (the committed sample uses 5000).
pub fn generate(out: &Path, rows: usize, seed: u64) -> Result<Generated, String> {
    generate_with(out, rows, seed, true, false)
}

/// `full = false` writes only silver orders, silver customers and gold (what benchmarks read).
/// `defects = true` adds defects at realistic rates to silver orders, so that a third of the
/// benchmark's strict checks fail (see `bench/rules/failing/`): NULL e-mails (0.05 %),
/// unknown statuses (0.02 %), negative amounts (0.01 %), updates before creation (0.01 %) and
/// repeated (customer_id, created_at) pairs (0.002 %), beside the orphans and malformed
/// e-mails every lake has.
pub fn generate_with(
    out: &Path,
    rows: usize,
    seed: u64,
    full: bool,
    defects: bool,
) -> Result<Generated, String> {
    let days: i64 = if rows > 100_000 { 30 } else { 10 };
    let customers = (rows / 10).max(100) as i64;
    let last = NaiveDate::from_ymd_opt(LAST_DAY.0, LAST_DAY.1, LAST_DAY.2).ok_or("bad date")?;
    let first = last - Duration::days(days - 1);
    let per_day = rows as i64 / days;
    let orphans_per_day = (per_day / 2000).max(if rows >= 1000 { 1 } else { 0 });

    // Silver orders, one partition per day, generated in parallel but deterministically.
    let day_list: Vec<Day> = (0..days)
        .into_par_iter()
        .map(|d| {
            let date = first + Duration::days(d);
            let mut rng = Rng::new(seed ^ (0xD1CE_0000 + d as u64));
            let n = if d == days - 1 {
                rows as i64 - per_day * (days - 1)
            } else {
                per_day
            };
            let start = micros(date);
            let mut orders = Vec::with_capacity(n as usize);
            for i in 0..n {
                let order_id = d * per_day + i + 1;
                let mut customer_id = 1 + rng.below(customers as u64) as i64;
                if i < orphans_per_day && d % 3 == 0 {
                    customer_id = 900_000_000 + order_id; // defect: customer does not exist
                }
                let created_at = start + (rng.below(86_400_000) as i64) * 1000;
                let mut email = email_of(customer_id);
                if rng.chance(0.003) {
                    email = email.replace('@', "."); // defect: malformed e-mail
                }
                let mut country = country_of(customer_id).to_string();
                if rng.chance(0.001) {
                    country = "USA".into(); // defect: three-letter country code
                }
                let amount =
                    ((3.5 + 1.1 * rng.normal()).exp().min(50_000.0) * 100.0).round() / 100.0;
                let mut order = Order {
                    order_id,
                    customer_id,
                    amount,
                    currency: CURRENCIES[rng.below(CURRENCIES.len() as u64) as usize],
                    status: STATUSES[rng.below(STATUSES.len() as u64) as usize],
                    email: Some(email),
                    country,
                    created_at,
                    updated_at: created_at + (rng.below(3_600_000) as i64) * 1000,
                };
                // Only when asked: the default lake's random sequence stays as it was.
                if defects {
                    if rng.chance(0.0005) {
                        order.email = None;
                    }
                    if rng.chance(0.0002) {
                        order.status = "unknown";
                    }
                    if rng.chance(0.0001) {
                        order.amount = -order.amount;
                    }
                    if rng.chance(0.0001) {
                        order.updated_at = order.created_at - 1_000_000;
                    }
                    if rng.chance(0.00002) {
                        if let Some(previous) = orders.last() {
                            let previous: &Order = previous;
                            order.customer_id = previous.customer_id;
                            order.created_at = previous.created_at;
                            order.updated_at = previous.updated_at;
                        }
                    }
                }
                orders.push(order);
            }
            Day { date, orders }
        })
        .collect();

    let mut generated = Generated {
        customers: customers as usize,
        ..Default::default()
    };
    let mut written: Vec<std::path::PathBuf> = Vec::new();
    let results: Vec<Result<Vec<std::path::PathBuf>, String>> = day_list
        .par_iter()
        .map(|day| {
            let part = format!("date={}", day.date.format("%Y-%m-%d"));
            let orders_file = out.join("silver/orders").join(&part).join("part-0.parquet");
            write_parquet(&orders_file, &[orders_batch(&day.orders)?])?;
            if !full {
                return Ok(vec![orders_file]);
            }
            let events_file = out
                .join("silver/order_events")
                .join(&part)
                .join("part-0.parquet");
            write_parquet(&events_file, &[events_batch(&day.orders, seed)?])?;
            let raw_part = format!("ingest_date={}", day.date.format("%Y-%m-%d"));
            let raw_file = out
                .join("bronze/orders_raw")
                .join(raw_part)
                .join("part-0.parquet");
            write_parquet(&raw_file, &[raw_orders_batch(&day.orders, seed)?])?;
            Ok(vec![orders_file, events_file, raw_file])
        })
        .collect();
    for r in results {
        written.extend(r?);
    }
    generated.orders = day_list.iter().map(|d| d.orders.len()).sum();

    if full {
        written.extend(write_payments(out, &day_list)?);
    }
    let customers_file = out.join("silver/customers/part-0.parquet");
    write_parquet(&customers_file, &[customers_batch(customers, first)?])?;
    written.push(customers_file);
    let raw_customers = out.join("bronze/customers_raw/part-0.parquet");
    write_parquet(
        &raw_customers,
        &[raw_customers_batch(customers, first, seed)?],
    )?;
    written.push(raw_customers);
    let revenue = out.join("gold/daily_revenue/part-0.parquet");
    write_parquet(&revenue, &[daily_revenue_batch(&day_list)?])?;
    written.push(revenue);
    let summary = out.join("gold/customer_summary/part-0.parquet");
    write_parquet(&summary, &[customer_summary_batch(&day_list, customers)?])?;
    written.push(summary);

    generated.files = written.len();
    generated.bytes = written
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    Ok(generated)
}

/// The Delta table `silver.payments`: the last three days' non-cancelled orders, paid a
/// minute after they were placed (see `sample_delta`).
fn write_payments(out: &Path, days: &[Day]) -> Result<Vec<std::path::PathBuf>, String> {
    const METHODS: &[&str] = &["card", "card", "paypal", "transfer"];
    let recent = &days[days.len().saturating_sub(3)..];
    let paid: Vec<(NaiveDate, Vec<crate::sample_delta::Payment>)> = recent
        .iter()
        .map(|day| {
            let payments = day
                .orders
                .iter()
                .filter(|o| o.status != "cancelled")
                .map(|o| crate::sample_delta::Payment {
                    payment_id: 50_000_000 + o.order_id,
                    order_id: o.order_id,
                    amount: o.amount,
                    method: METHODS[(o.order_id % METHODS.len() as i64) as usize],
                    paid_at: o.created_at + 60_000_000,
                })
                .collect();
            (day.date, payments)
        })
        .collect();
    // Committed the evening of the last day (the sample environment evaluates at midnight).
    let last = recent
        .last()
        .map(|d| micros(d.date) / 1000)
        .unwrap_or_default();
    let hour = 3_600_000;
    crate::sample_delta::write(out, &paid, [last + 22 * hour, last + 23 * hour])
}

fn orders_batch(orders: &[Order]) -> Result<RecordBatch, String> {
    RecordBatch::try_from_iter(vec![
        (
            "order_id",
            Arc::new(Int64Array::from_iter_values(
                orders.iter().map(|o| o.order_id),
            )) as ArrayRef,
        ),
        (
            "customer_id",
            Arc::new(Int64Array::from_iter_values(
                orders.iter().map(|o| o.customer_id),
            )),
        ),
        (
            "amount",
            Arc::new(Float64Array::from_iter_values(
                orders.iter().map(|o| o.amount),
            )),
        ),
        (
            "currency",
            Arc::new(StringArray::from_iter_values(
                orders.iter().map(|o| o.currency),
            )),
        ),
        (
            "status",
            Arc::new(StringArray::from_iter_values(
                orders.iter().map(|o| o.status),
            )),
        ),
        (
            "email",
            Arc::new(StringArray::from_iter(
                orders.iter().map(|o| o.email.as_deref()),
            )),
        ),
        (
            "country",
            Arc::new(StringArray::from_iter_values(
                orders.iter().map(|o| o.country.as_str()),
            )),
        ),
        (
            "created_at",
            ts(orders.iter().map(|o| o.created_at).collect()),
        ),
        (
            "updated_at",
            ts(orders.iter().map(|o| o.updated_at).collect()),
        ),
    ])
    .map_err(|e| e.to_string())
}

fn events_batch(orders: &[Order], seed: u64) -> Result<RecordBatch, String> {
    let mut ids = Vec::new();
    let mut order_ids = Vec::new();
    let mut types = Vec::new();
    let mut times = Vec::new();
    for o in orders {
        let mut rng = Rng::new(seed ^ (o.order_id as u64).wrapping_mul(0x5851_F42D_4C95_7F2D));
        // One event per order: its latest transition (keeps the committed lake small).
        let steps: &[&str] = match o.status {
            "placed" => &["created"],
            "cancelled" => &["cancelled"],
            "shipped" => &["shipped"],
            "returned" => &["returned"],
            _ => &["delivered"],
        };
        let mut t = o.created_at;
        for step in steps {
            let (a, b) = (rng.next_u64(), rng.next_u64());
            ids.push(format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                0x8000 | ((b >> 48) & 0x3fff),
                b & 0xffff_ffff_ffff
            ));
            order_ids.push(o.order_id);
            types.push(step.to_string());
            times.push(t);
            t += (rng.below(600_000) as i64 + 1) * 1000;
        }
    }
    RecordBatch::try_from_iter(vec![
        ("event_id", strings(ids)),
        (
            "order_id",
            Arc::new(Int64Array::from(order_ids)) as ArrayRef,
        ),
        ("event_type", strings(types)),
        ("event_ts", ts(times)),
    ])
    .map_err(|e| e.to_string())
}

/// Raw landing of orders: strings everywhere, with the defects bronze is for.
fn raw_orders_batch(orders: &[Order], seed: u64) -> Result<RecordBatch, String> {
    let take = orders.len() / 2;
    let mut rng = Rng::new(seed ^ 0xB0B0 ^ orders.first().map(|o| o.order_id as u64).unwrap_or(0));
    let mut ids: Vec<Option<String>> = Vec::with_capacity(take);
    let mut customers = Vec::with_capacity(take);
    let mut amounts = Vec::with_capacity(take);
    let mut statuses = Vec::with_capacity(take);
    let mut ingested = Vec::with_capacity(take);
    for (i, o) in orders.iter().take(take).enumerate() {
        let id = if rng.chance(0.004) {
            None
        } else if i > 0 && rng.chance(0.003) {
            Some(orders[i - 1].order_id.to_string()) // duplicate of the previous order
        } else {
            Some(o.order_id.to_string())
        };
        ids.push(id);
        customers.push(o.customer_id.to_string());
        amounts.push(if rng.chance(0.002) {
            "N/A".to_string()
        } else {
            format!("{:.2}", o.amount)
        });
        statuses.push(if rng.chance(0.005) {
            o.status.to_uppercase()
        } else {
            o.status.to_string()
        });
        ingested.push(o.created_at + 5_000_000);
    }
    RecordBatch::try_from_iter(vec![
        ("order_id", Arc::new(StringArray::from(ids)) as ArrayRef),
        ("customer_id", strings(customers)),
        ("amount", strings(amounts)),
        ("status", strings(statuses)),
        ("_ingested_at", ts(ingested)),
    ])
    .map_err(|e| e.to_string())
}

fn customers_batch(customers: i64, first: NaiveDate) -> Result<RecordBatch, String> {
    let ids: Vec<i64> = (1..=customers).collect();
    RecordBatch::try_from_iter(vec![
        (
            "customer_id",
            Arc::new(Int64Array::from(ids.clone())) as ArrayRef,
        ),
        ("email", strings(ids.iter().map(|c| email_of(*c)).collect())),
        (
            "country",
            strings(ids.iter().map(|c| country_of(*c).to_string()).collect()),
        ),
        (
            "signup_date",
            Arc::new(Date32Array::from_iter_values(
                ids.iter()
                    .map(|c| days_since_epoch(first) - 30 - (*c % 700) as i32),
            )),
        ),
    ])
    .map_err(|e| e.to_string())
}

fn raw_customers_batch(customers: i64, first: NaiveDate, seed: u64) -> Result<RecordBatch, String> {
    let mut rng = Rng::new(seed ^ 0xC0C0);
    let ids: Vec<i64> = (1..=customers).collect();
    let dates: Vec<String> = ids
        .iter()
        .map(|c| {
            let d = first - Duration::days(30 + (*c % 700));
            if rng.chance(0.01) {
                d.format("%d/%m/%Y").to_string()
            } else {
                d.format("%Y-%m-%d").to_string()
            }
        })
        .collect();
    RecordBatch::try_from_iter(vec![
        (
            "customer_id",
            strings(ids.iter().map(|c| c.to_string()).collect()),
        ),
        ("email", strings(ids.iter().map(|c| email_of(*c)).collect())),
        ("signup_date", strings(dates)),
    ])
    .map_err(|e| e.to_string())
}

fn daily_revenue_batch(days: &[Day]) -> Result<RecordBatch, String> {
    let mut dates = Vec::new();
    let mut orders = Vec::new();
    let mut revenue = Vec::new();
    for day in days {
        let kept: Vec<&Order> = day
            .orders
            .iter()
            .filter(|o| o.status != "cancelled")
            .collect();
        dates.push(days_since_epoch(day.date));
        orders.push(kept.len() as i64);
        revenue.push(kept.iter().map(|o| o.amount).sum::<f64>());
    }
    RecordBatch::try_from_iter(vec![
        ("date", Arc::new(Date32Array::from(dates)) as ArrayRef),
        ("orders", Arc::new(Int64Array::from(orders))),
        ("revenue", Arc::new(Float64Array::from(revenue))),
    ])
    .map_err(|e| e.to_string())
}

fn customer_summary_batch(days: &[Day], customers: i64) -> Result<RecordBatch, String> {
    let n = customers as usize + 1;
    let mut count = vec![0i64; n];
    let mut revenue = vec![0f64; n];
    let mut last = vec![None::<i64>; n];
    for o in days.iter().flat_map(|d| d.orders.iter()) {
        let Ok(c) = usize::try_from(o.customer_id) else {
            continue;
        };
        if c >= n || o.status == "cancelled" {
            continue; // orphans never reach gold
        }
        count[c] += 1;
        revenue[c] += o.amount;
        last[c] = Some(last[c].map_or(o.created_at, |l: i64| l.max(o.created_at)));
    }
    let ids: Vec<i64> = (1..n as i64).filter(|c| count[*c as usize] > 0).collect();
    RecordBatch::try_from_iter(vec![
        (
            "customer_id",
            Arc::new(Int64Array::from(ids.clone())) as ArrayRef,
        ),
        (
            "orders",
            Arc::new(Int64Array::from_iter_values(
                ids.iter().map(|c| count[*c as usize]),
            )),
        ),
        (
            "revenue",
            Arc::new(Float64Array::from_iter_values(
                ids.iter().map(|c| revenue[*c as usize]),
            )),
        ),
        (
            "last_order_at",
            ts_opt(ids.iter().map(|c| last[*c as usize]).collect()),
        ),
    ])
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        generate(a.path(), 2000, 7).unwrap();
        generate(b.path(), 2000, 7).unwrap();
        let file = "silver/orders/date=2026-11-20/part-0.parquet";
        assert_eq!(
            std::fs::read(a.path().join(file)).unwrap(),
            std::fs::read(b.path().join(file)).unwrap()
        );
    }
}
