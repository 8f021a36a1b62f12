//! The member list carries each member's own roles, on both backends, whole and paged:
//! the roles of a page are loaded in one query over the page's ID range (not one query
//! per member), so this checks that nothing from outside the page or from another member
//! slips in.

#[path = "support/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};

use harness::{Backend, TestServer, access};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests!(member_pages_carry_each_members_own_roles);

const MEMBERS: usize = 9;

/// user id -> role ids, as the list reports them.
fn roles_by_member(list: &Value) -> BTreeMap<String, BTreeSet<String>> {
    list["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            let id = m["user_id"].as_str().expect("user id").to_owned();
            let roles = m["roles"]
                .as_array()
                .expect("roles")
                .iter()
                .map(|r| r.as_str().expect("role id").to_owned())
                .collect();
            (id, roles)
        })
        .collect()
}

async fn member_pages_carry_each_members_own_roles(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let owner = access(&s.register("owner").await);
    let (_, detail) = s.post("/api/v1/servers", Some(&owner), json!({"name": "Crowd"})).await;
    let sid = detail["server"]["id"].as_str().expect("id").to_owned();
    let mut role_ids = Vec::new();
    for name in ["red", "blue"] {
        let (status, role) = s
            .post(&format!("/api/v1/servers/{sid}/roles"), Some(&owner), json!({"name": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{role}");
        role_ids.push(role["id"].as_str().expect("id").to_owned());
    }
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let owner_id = detail["server"]["owner_id"].as_str().expect("owner").to_owned();
    expected.insert(owner_id, BTreeSet::new());
    for n in 0..MEMBERS {
        let auth = s.register(&format!("member{n}")).await;
        let id = auth["user"]["id"].as_str().expect("id").to_owned();
        let (_, invite) =
            s.post(&format!("/api/v1/servers/{sid}/invites"), Some(&owner), json!({})).await;
        let code = invite["code"].as_str().expect("code");
        let (status, _) =
            s.post(&format!("/api/v1/invites/{code}"), Some(&access(&auth)), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        // Every third member red, every second blue: pages mix members with none, one
        // and two roles, so a role leaking to a neighbour would show.
        let mut mine = BTreeSet::new();
        for (role, every) in role_ids.iter().zip([3, 2]) {
            if n % every == 0 {
                let (status, _) = s
                    .send(
                        Method::PUT,
                        &format!("/api/v1/servers/{sid}/members/{id}/roles/{role}"),
                        Some(&owner),
                        None,
                    )
                    .await;
                assert_eq!(status, StatusCode::NO_CONTENT);
                mine.insert(role.clone());
            }
        }
        expected.insert(id, mine);
    }

    let (status, all) =
        s.get(&format!("/api/v1/servers/{sid}/members?limit=1000"), Some(&owner)).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(roles_by_member(&all), expected);

    // Pages of four: the same answer, page by page.
    let mut paged = BTreeMap::new();
    let mut after = String::new();
    loop {
        let query =
            if after.is_empty() { "limit=4".to_owned() } else { format!("limit=4&after={after}") };
        let (status, page) =
            s.get(&format!("/api/v1/servers/{sid}/members?{query}"), Some(&owner)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let got = roles_by_member(&page);
        assert!(got.len() <= 4);
        paged.extend(got);
        match page["next_after"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, expected);
    s.stop().await;
}
