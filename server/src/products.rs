//! The sample resource of the secured API: products kept in the store beside
//! jwtauth's own tables (through the store's extension point, with migrations of
//! their own), and the input rules (name 1–200 characters, price ≥ 0, no unknown
//! fields), one error per field.

use jwtauth_core::store::{Row, Store, StoreError, Val};
use serde::Serialize;
use serde_json::{Map, Value};

/// The name the products' migrations are recorded under.
pub const EXTENSION: &str = "jwtauth-server.products";

/// The products table. `IF NOT EXISTS`: stores made by jwtauth 0.1, whose core
/// created this table, are adopted as they are.
const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS jwtauth_products (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        price_cents BIGINT NOT NULL,
        created_at BIGINT NOT NULL
    )"];

/// Creates (or adopts) the products table. Call once after opening the store.
pub fn migrate(store: &Store) -> Result<(), StoreError> {
    store.migrate_extension(EXTENSION, MIGRATIONS)
}

/// The longest product name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The highest price accepted.
pub const MAX_PRICE: f64 = 1_000_000_000.0;

/// A stored product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Product {
    /// Id (random, URL-safe).
    pub id: String,
    /// Name, 1–200 characters.
    pub name: String,
    /// Price ≥ 0, kept to the cent.
    pub price: f64,
}

/// A product to create, once its input has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProduct {
    name: String,
    price_cents: i64,
}

/// One rejected input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field (JSON member name).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: jwtauth_core::error::clip(field),
        message: message.into(),
    }
}

impl NewProduct {
    /// Checks a JSON object: `name` (string, 1–200 characters after trimming) and
    /// `price` (number, 0 ≤ price ≤ 1e9); any other member is an error. Every
    /// problem is reported, one per field.
    pub fn from_json(input: &Map<String, Value>) -> Result<NewProduct, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = input
            .keys()
            .filter(|k| *k != "name" && *k != "price")
            .map(|k| field_error(k, "unknown field"))
            .collect();
        let name = match input.get("name") {
            None => {
                errors.push(field_error("name", "is required"));
                None
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                let n = s.chars().count();
                if n == 0 {
                    errors.push(field_error("name", "must not be empty"));
                    None
                } else if n > MAX_NAME_CHARS {
                    errors.push(field_error(
                        "name",
                        format!("must be at most {MAX_NAME_CHARS} characters"),
                    ));
                    None
                } else if s.chars().any(char::is_control) {
                    errors.push(field_error("name", "must not contain control characters"));
                    None
                } else {
                    Some(s.to_string())
                }
            }
            Some(_) => {
                errors.push(field_error("name", "must be a string"));
                None
            }
        };
        let price = match input.get("price") {
            None => {
                errors.push(field_error("price", "is required"));
                None
            }
            Some(Value::Number(n)) => match n.as_f64() {
                Some(p) if p.is_finite() && (0.0..=MAX_PRICE).contains(&p) => {
                    // Within 0..=1e9, so the cents fit an i64 exactly.
                    #[allow(clippy::cast_possible_truncation)]
                    let cents = (p * 100.0).round() as i64;
                    Some(cents)
                }
                Some(p) if p < 0.0 => {
                    errors.push(field_error("price", "must be greater than or equal to 0"));
                    None
                }
                _ => {
                    errors.push(field_error("price", format!("must be at most {MAX_PRICE}")));
                    None
                }
            },
            Some(_) => {
                errors.push(field_error("price", "must be a number"));
                None
            }
        };
        match (name, price) {
            (Some(name), Some(price_cents)) if errors.is_empty() => Ok(NewProduct { name, price_cents }),
            _ => Err(errors),
        }
    }
}

#[allow(clippy::cast_precision_loss)] // cents ≤ 1e11 are exact in an f64
fn product(row: &Row) -> Result<Product, StoreError> {
    Ok(Product {
        id: row.text(0)?,
        name: row.text(1)?,
        price: row.i64(2)? as f64 / 100.0,
    })
}

/// Every product, oldest first.
pub fn list(store: &Store) -> Result<Vec<Product>, StoreError> {
    let rows = store.write(|tx| {
        tx.query(
            "SELECT id, name, price_cents FROM jwtauth_products ORDER BY created_at, id",
            &[],
        )
    })?;
    rows.iter().map(product).collect()
}

/// Stores a checked product at time `now` and returns it with its new id.
pub fn add(store: &Store, p: &NewProduct, now: i64) -> Result<Product, jwtauth_core::Error> {
    let id = new_id()?;
    store.write(|tx| {
        tx.exec(
            "INSERT INTO jwtauth_products (id, name, price_cents, created_at) VALUES (?1, ?2, ?3, ?4)",
            &[
                id.as_str().into(),
                p.name.as_str().into(),
                Val::I64(p.price_cents),
                Val::I64(now),
            ],
        )
    })?;
    #[allow(clippy::cast_precision_loss)]
    Ok(Product {
        id,
        name: p.name.clone(),
        price: p.price_cents as f64 / 100.0,
    })
}

/// Deletes a product; returns whether it existed.
pub fn delete(store: &Store, id: &str) -> Result<bool, StoreError> {
    let n = store.write(|tx| tx.exec("DELETE FROM jwtauth_products WHERE id = ?1", &[id.into()]))?;
    Ok(n > 0)
}

/// 96 random bits, URL-safe.
fn new_id() -> Result<String, jwtauth_core::random::NoRandomness> {
    jwtauth_core::random::b64_id::<12>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_valid_product_passes() {
        let p = NewProduct::from_json(&obj(json!({"name": " Tea ", "price": 3.5}))).unwrap();
        assert_eq!(p.name, "Tea");
        assert_eq!(p.price_cents, 350);
        assert!(NewProduct::from_json(&obj(json!({"name": "x", "price": 0}))).is_ok());
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errs = NewProduct::from_json(&obj(json!({"name": "", "price": -1, "color": "red"}))).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["color", "name", "price"], "{errs:?}");
        let errs = NewProduct::from_json(&obj(json!({"name": "x".repeat(201), "price": "1"}))).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert!(errs[0].message.contains("200"));
        assert_eq!(errs[1].message, "must be a number");
        let errs = NewProduct::from_json(&Map::new()).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert!(errs.iter().all(|e| e.message == "is required"));
    }

    #[test]
    fn two_hundred_characters_is_the_limit() {
        assert!(NewProduct::from_json(&obj(json!({"name": "é".repeat(200), "price": 1}))).is_ok());
        assert!(NewProduct::from_json(&obj(json!({"name": "é".repeat(201), "price": 1}))).is_err());
        assert!(NewProduct::from_json(&obj(json!({"name": "a", "price": 2e9}))).is_err());
    }

    fn sqlite(dir: &std::path::Path) -> Store {
        Store::open(&format!("sqlite://{}", dir.join("jwtauth.db").display()), 1).unwrap()
    }

    fn tables(store: &Store) -> Vec<String> {
        let rows = store
            .write(|tx| tx.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", &[]))
            .unwrap();
        rows.iter().map(|r| r.text(0).unwrap()).collect()
    }

    #[test]
    fn products_are_kept_in_the_store_in_a_table_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(dir.path());
        // The auth core keeps no application table.
        assert!(!tables(&store).contains(&"jwtauth_products".to_string()));
        migrate(&store).unwrap();
        migrate(&store).unwrap(); // once only
        assert!(tables(&store).contains(&"jwtauth_products".to_string()));
        assert!(list(&store).unwrap().is_empty());
        let p = add(
            &store,
            &NewProduct::from_json(&obj(json!({"name": "Tea", "price": 3.5}))).unwrap(),
            7,
        )
        .unwrap();
        assert_eq!(p.price, 3.5);
        assert_eq!(list(&store).unwrap(), vec![p.clone()]);
        assert!(delete(&store, &p.id).unwrap());
        assert!(!delete(&store, &p.id).unwrap());
        assert!(list(&store).unwrap().is_empty());
    }

    #[test]
    fn a_store_whose_core_created_the_products_table_is_adopted_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(dir.path());
        // As jwtauth 0.1's core left it: the table, with a row, and no extension record.
        store
            .write(|tx| {
                tx.batch(
                    "CREATE TABLE jwtauth_products (id TEXT PRIMARY KEY, name TEXT NOT NULL, price_cents BIGINT NOT NULL, created_at BIGINT NOT NULL);
                     INSERT INTO jwtauth_products VALUES ('old', 'Coffee', 250, 1)",
                )
            })
            .unwrap();
        migrate(&store).unwrap();
        let all = list(&store).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].id.as_str(), all[0].name.as_str(), all[0].price),
            ("old", "Coffee", 2.5)
        );
    }

    #[test]
    fn a_store_migrated_by_a_newer_server_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(dir.path());
        migrate(&store).unwrap();
        let newer = store.migrate_extension(EXTENSION, &[]).unwrap_err();
        assert!(
            matches!(
                newer,
                StoreError::TooNew {
                    found: 1,
                    supported: 0,
                    ..
                }
            ),
            "{newer}"
        );
        assert!(store.migrate_extension("no spaces allowed", &[]).is_err());
    }
}
