//! Which scope each REST route needs. The decision itself is `ClientPrincipal::authorize`; the
//! extractors (`principal::ClientPath`, `principal::EmployeePath`) ask it for every client route,
//! with the scope this table names for the route they serve. A route missing from the table
//! needs `admin`, so a new route is closed until it is placed here.

use crate::accounts::Scope;
use crate::platform::http::{CLIENT, EMPLOYEE, EMPLOYEES};
use http::Method;

/// The scope a request to `route` (the matched template, under `/api/v1`) with `method` needs.
pub fn required_scope(method: &Method, route: &str) -> Scope {
    let route = route.strip_prefix("/api/v1").unwrap_or(route);
    let employee_tail = route.strip_prefix(EMPLOYEE);
    match (method.as_str(), employee_tail) {
        ("GET", Some("" | "/audit" | "/usage" | "/budget")) => Scope::EmployeesRead,
        ("PATCH" | "DELETE", Some("")) | ("POST", Some("/{action}")) => Scope::EmployeesWrite,
        ("POST", Some("/interact" | "/interact/stream" | "/interact/stop")) => Scope::Interact,
        ("GET", Some("/memory")) => Scope::MemoryRead,
        ("DELETE", Some("/memory" | "/memory/{interaction_id}"))
        | ("POST", Some("/memory/import")) => Scope::MemoryWrite,
        _ => match (method.as_str(), route) {
            ("GET", r) if r == CLIENT || r == EMPLOYEES => Scope::EmployeesRead,
            // The tool catalogue: whoever may read employees may see what they can be given.
            ("GET", r)
                if r.strip_prefix(CLIENT).is_some_and(|t| {
                    matches!(
                        t,
                        "/tools"
                            | "/tools/{tool_name}"
                            | "/mcp-servers"
                            | "/mcp-servers/{server_name}"
                            | "/knowledge"
                            | "/knowledge/{collection}"
                            | "/knowledge/{collection}/documents"
                            | "/knowledge/{collection}/documents/{document_id}"
                    )
                }) =>
            {
                Scope::EmployeesRead
            }
            ("POST", r) if r == EMPLOYEES => Scope::EmployeesWrite,
            _ => Scope::Admin,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_the_scope_of_what_they_do_and_unknown_ones_need_admin() {
        let e = |tail: &str| format!("/api/v1{EMPLOYEE}{tail}");
        assert_eq!(required_scope(&Method::GET, &e("")), Scope::EmployeesRead);
        assert_eq!(
            required_scope(&Method::PATCH, &e("")),
            Scope::EmployeesWrite
        );
        assert_eq!(
            required_scope(&Method::POST, &e("/interact/stream")),
            Scope::Interact
        );
        assert_eq!(
            required_scope(&Method::POST, &e("/interact/stop")),
            Scope::Interact
        );
        assert_eq!(
            required_scope(&Method::GET, &e("/memory")),
            Scope::MemoryRead
        );
        assert_eq!(
            required_scope(&Method::POST, &format!("/api/v1{EMPLOYEES}")),
            Scope::EmployeesWrite
        );
        assert_eq!(
            required_scope(&Method::GET, &format!("/api/v1{CLIENT}/audit/verify")),
            Scope::Admin
        );
        assert_eq!(
            required_scope(&Method::GET, &format!("/api/v1{CLIENT}/something-new")),
            Scope::Admin
        );
    }
}
