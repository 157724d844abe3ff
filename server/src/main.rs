//! jwtauth-server: the secured REST API.

fn main() {}
