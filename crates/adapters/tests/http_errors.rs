//! A provider's API root may carry a key in its query or userinfo; when a
//! request fails, the error says what went wrong without the URL.

use opsroom_adapters::github::{GitHubClient, GitHubConfig, RepoName};
use opsroom_adapters::vercel::{VercelClient, VercelConfig};
use opsroom_adapters::{HttpOptions, RetryPolicy, Secret};

const KEY: &str = "k3y-in-the-query-81f";

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn once() -> HttpOptions {
    HttpOptions {
        retry: RetryPolicy::no_retry(),
        ..HttpOptions::default()
    }
}

#[tokio::test]
async fn transport_errors_do_not_repeat_the_url() {
    let port = closed_port();
    let mut vercel = VercelConfig::new(Secret::new("tok"));
    vercel.base_url = format!("http://127.0.0.1:{port}/?api_key={KEY}");
    vercel.http = once();
    let err = VercelClient::new(vercel)
        .unwrap()
        .get_deployment("dpl_1")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("could not reach the provider"), "{text}");
    assert!(!text.contains(KEY), "{text}");

    let mut github = GitHubConfig::new(Secret::new("tok"));
    github.base_url = format!("http://user:{KEY}@127.0.0.1:{port}/api/v3");
    github.http = once();
    let err = GitHubClient::new(github)
        .unwrap()
        .get_repo(&RepoName::new("o", "r"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("could not reach the provider"), "{text}");
    assert!(!text.contains(KEY), "{text}");
}
