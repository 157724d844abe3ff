//! The sample resource of the secured API: products kept in the store, with the
//! input rules (name 1–200 characters, price ≥ 0, no unknown fields) checked here,
//! one error per field.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::store::{Row, StoreError, Val};
use crate::{Error, JwtAuth};

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
        field: crate::error::clip(field),
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

impl JwtAuth {
    /// Every product, oldest first.
    pub fn products(&self) -> Result<Vec<Product>, Error> {
        let rows = self.store_or_err()?.write(|tx| {
            tx.query(
                "SELECT id, name, price_cents FROM jwtauth_products ORDER BY created_at, id",
                &[],
            )
        })?;
        Ok(rows.iter().map(product).collect::<Result<_, _>>()?)
    }

    /// Stores a checked product and returns it with its new id.
    pub fn add_product(&self, p: &NewProduct) -> Result<Product, Error> {
        use base64::Engine as _;
        let mut raw = [0u8; 12];
        aws_lc_rs::rand::fill(&mut raw).map_err(|_| StoreError::Data("system randomness unavailable".into()))?;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now = self.now();
        self.store_or_err()?.write(|tx| {
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
    pub fn delete_product(&self, id: &str) -> Result<bool, Error> {
        let n = self
            .store_or_err()?
            .write(|tx| tx.exec("DELETE FROM jwtauth_products WHERE id = ?1", &[id.into()]))?;
        Ok(n > 0)
    }
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
}
