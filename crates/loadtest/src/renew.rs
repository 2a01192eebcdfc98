//! Fixture tokens outlive a run but not a day (the server's access tokens last
//! 24 h by default): before a run, tokens that would expire before it ends are
//! made again and the fixture file rewritten. Through the server's database when
//! the fixture was made there (`rtchat loadtest`: no limits, no bcrypt per
//! user), otherwise by logging each user in through the REST API (the server's
//! login limits apply, as they did to `prepare --url`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use crate::cli::DirectProvisioner;
use crate::fixture::{Fixture, PASSWORD};
use crate::scenario::Scenario;

/// Logins in flight at once when renewing through REST.
const CONCURRENCY: usize = 16;
/// A token must stay valid this long past the run's deadline.
const MARGIN: Duration = Duration::from_secs(300);

/// Renews the run's users' tokens that expire before the run could end; saves
/// the fixture when it changed. A missing fixture is left to the run to make.
pub async fn ensure_fresh(scenario: &Scenario, direct: Option<&dyn DirectProvisioner>) -> Result<(), String> {
    if !scenario.fixture.exists() {
        return Ok(());
    }
    let mut fixture = Fixture::load(&scenario.fixture)?;
    let until = SystemTime::now() + scenario.deadline() + MARGIN;
    let last = (scenario.first_user + scenario.users).min(fixture.users.len());
    let stale: Vec<usize> =
        (scenario.first_user..last).filter(|&i| expires_before(&fixture.users[i].token, until)).collect();
    if stale.is_empty() {
        return Ok(());
    }
    eprintln!("{} fixture tokens expire before the run would end: making them again", stale.len());
    match direct.filter(|_| !fixture.made_for.starts_with("http")) {
        Some(direct) => direct.renew(&mut fixture, &stale).await?,
        None => by_login(scenario.first_url(), scenario.insecure, &mut fixture, &stale).await?,
    }
    fixture.save(&scenario.fixture)
}

/// Whether a JWT's `exp` is before `until` (an unreadable token counts as expired).
pub fn expires_before(token: &str, until: SystemTime) -> bool {
    let exp = token
        .split('.')
        .nth(1)
        .and_then(|payload| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
        .and_then(|claims| claims["exp"].as_u64());
    match exp {
        Some(exp) => UNIX_EPOCH + Duration::from_secs(exp) < until,
        None => true,
    }
}

async fn by_login(base: &str, insecure: bool, fixture: &mut Fixture, stale: &[usize]) -> Result<(), String> {
    let url = format!("{}/api/v1/auth/login", base.trim_end_matches('/'));
    let client = crate::http_client(insecure).build().map_err(|e| e.to_string())?;
    let tokens: Vec<(usize, String)> = futures::stream::iter(stale.iter().copied())
        .map(|index| {
            let email = format!("{}@loadtest.example.com", fixture.users[index].username);
            let (client, url) = (&client, &url);
            async move { login(client, url, &email).await.map(|token| (index, token)) }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    for (index, token) in tokens {
        fixture.users[index].token = token;
    }
    Ok(())
}

async fn login(client: &reqwest::Client, url: &str, email: &str) -> Result<String, String> {
    let response = client
        .post(url)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| format!("POST {url}: {status}, unreadable body: {e}"))?;
    match body["data"]["token"].as_str() {
        Some(token) if status.is_success() => Ok(token.to_string()),
        _ => Err(format!(
            "renewing {email}'s token: {status} {} {} (raise the server's auth limits, or prepare a new fixture)",
            body["code"].as_str().unwrap_or("?"),
            body["message"].as_str().unwrap_or("")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_expiring_at(exp: u64) -> String {
        let encode = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.sig", encode(&json!({"alg": "HS256"})), encode(&json!({"userId": "u", "exp": exp})))
    }

    #[test]
    fn expiry_is_read_from_the_token() {
        let now = SystemTime::now();
        let in_an_hour = now.duration_since(UNIX_EPOCH).unwrap().as_secs() + 3600;
        let token = token_expiring_at(in_an_hour);
        assert!(!expires_before(&token, now + Duration::from_secs(60)));
        assert!(expires_before(&token, now + Duration::from_secs(7200)));
        assert!(expires_before("not-a-jwt", now), "an unreadable token is made again");
    }
}
