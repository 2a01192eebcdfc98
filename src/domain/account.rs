//! Account inputs: parsed from the request, trimmed, THEN checked (the seed checked
//! lengths before trimming and stored whitespace-only names as "").

use std::sync::LazyLock;

use regex::Regex;
use validator::{Validate, ValidationError};

use super::form::{Form, failure, first_failure, has_visible};
use crate::error::Error;

static USERNAME_CHARS: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)] // a literal, checked by the tests
    Regex::new("^[A-Za-z0-9_]*$").expect("valid regex")
});

#[derive(Debug, Validate)]
pub struct RegisterInput {
    #[validate(
        length(min = 3, max = 30),
        regex(path = *USERNAME_CHARS, message = "Username can only contain letters, numbers and underscores")
    )]
    pub username: String,
    #[validate(length(max = 100), email(message = "Invalid email address"))]
    pub email: String,
    #[validate(length(min = 6, max = 100))]
    pub password: String,
    #[validate(
        length(min = 2, max = 100),
        non_control_character(message = "Full name must not contain control characters"),
        custom(function = "visible_full_name")
    )]
    pub full_name: String,
}

/// The order fields appear in forms, with the labels their messages start with.
const REGISTER_FIELDS: &[(&str, &str)] =
    &[("username", "Username"), ("email", "Email"), ("password", "Password"), ("full_name", "Full name")];

impl RegisterInput {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let input = Self {
            username: form.required_string("username", "Username")?.trim().to_string(),
            email: normalize_email(&form.required_string("email", "Email")?),
            password: form.required_string("password", "Password")?,
            full_name: form.required_string("fullName", "Full name")?.trim().to_string(),
        };
        input.validate().map_err(|e| first_failure(e, REGISTER_FIELDS))?;
        Ok(input)
    }
}

#[derive(Debug, Validate)]
pub struct LoginInput {
    #[validate(length(max = 100), email(message = "Invalid email address"))]
    pub email: String,
    pub password: String,
}

impl LoginInput {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let input = Self {
            email: normalize_email(&form.required_string("email", "Email")?),
            password: form.required_string("password", "Password")?,
        };
        if input.email.is_empty() {
            return Err(Error::MissingField("Email is required".into()));
        }
        if input.password.is_empty() {
            return Err(Error::MissingField("Password is required".into()));
        }
        input.validate().map_err(|e| first_failure(e, &[("email", "Email")]))?;
        Ok(input)
    }
}

/// `PATCH /auth/profile`: any of fullName, email, password; changing email or
/// password needs `currentPassword`.
#[derive(Debug, Validate)]
pub struct ProfileUpdate {
    #[validate(
        length(min = 2, max = 100),
        non_control_character(message = "Full name must not contain control characters"),
        custom(function = "visible_full_name")
    )]
    pub full_name: Option<String>,
    #[validate(length(max = 100), email(message = "Invalid email address"))]
    pub email: Option<String>,
    #[validate(length(min = 6, max = 100))]
    pub password: Option<String>,
    pub current_password: Option<String>,
}

impl ProfileUpdate {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let update = Self {
            full_name: form.string("fullName", "Full name")?.map(|s| s.trim().to_string()),
            email: form.string("email", "Email")?.map(|s| normalize_email(&s)),
            password: form.string("password", "Password")?,
            current_password: form.string("currentPassword", "Current password")?,
        };
        if update.full_name.is_none() && update.email.is_none() && update.password.is_none() {
            return Err(Error::MissingField("Provide at least one of fullName, email or password".into()));
        }
        update.validate().map_err(|e| {
            first_failure(e, &[("full_name", "Full name"), ("email", "Email"), ("password", "Password")])
        })?;
        if (update.email.is_some() || update.password.is_some()) && update.current_password.is_none() {
            return Err(Error::MissingField("Current password is required to change email or password".into()));
        }
        Ok(update)
    }
}

/// Emails compare case-insensitively on every backend: stored lower-case.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Two zero-width characters are two characters, but no name anyone can see.
fn visible_full_name(value: &str) -> Result<(), ValidationError> {
    if has_visible(value) { Ok(()) } else { Err(failure("Full name must be at least 2 characters long")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(json: &str) -> Form {
        Form::parse(json.as_bytes()).expect("valid json")
    }

    #[test]
    fn trims_before_checking_length() {
        let error = RegisterInput::from_form(&form(
            r#"{"username":"   ab   ","email":"a@b.co","password":"secret1","fullName":"Al"}"#,
        ))
        .unwrap_err();
        assert_eq!(error.to_string(), "Username must be at least 3 characters long");
    }

    #[test]
    fn reports_the_first_failing_field() {
        let error =
            RegisterInput::from_form(&form(r#"{"username":"ok_name","email":"nope","password":"1","fullName":"A"}"#))
                .unwrap_err();
        assert_eq!(error.to_string(), "Invalid email address");
    }

    #[test]
    fn each_rule_words_its_own_message() {
        let register = |username: &str, email: &str, password: &str, full_name: &str| {
            let body =
                serde_json::json!({"username": username, "email": email, "password": password, "fullName": full_name});
            RegisterInput::from_form(&form(&body.to_string())).map(drop).map_err(|e| e.to_string())
        };
        assert_eq!(register("ok_name", "a@b.co", "secret1", "Al"), Ok(()));
        assert_eq!(
            register(&"u".repeat(31), "a@b.co", "secret1", "Al").unwrap_err(),
            "Username must be at most 30 characters long"
        );
        assert_eq!(
            register("no-dash", "a@b.co", "secret1", "Al").unwrap_err(),
            "Username can only contain letters, numbers and underscores"
        );
        let long_email = format!("{}@b.co", "a".repeat(100));
        assert_eq!(
            register("ok_name", &long_email, "secret1", "Al").unwrap_err(),
            "Email must be at most 100 characters long"
        );
        assert_eq!(
            register("ok_name", "a@b.co", "12345", "Al").unwrap_err(),
            "Password must be at least 6 characters long"
        );
        assert_eq!(
            register("ok_name", "a@b.co", &"p".repeat(101), "Al").unwrap_err(),
            "Password must be at most 100 characters long"
        );
        assert_eq!(
            register("ok_name", "a@b.co", "secret1", "A\u{7}l").unwrap_err(),
            "Full name must not contain control characters"
        );
        assert_eq!(
            register("ok_name", "a@b.co", "secret1", "\u{200B}\u{200B}").unwrap_err(),
            "Full name must be at least 2 characters long"
        );
        // Lengths count characters, not bytes: 100 two-byte characters fit.
        assert_eq!(register("ok_name", "a@b.co", "secret1", &"é".repeat(100)), Ok(()));
    }

    #[test]
    fn missing_field_has_its_own_code() {
        let error = RegisterInput::from_form(&form(r#"{"username":"ok_name"}"#)).unwrap_err();
        assert_eq!(error.code(), "MISSING_REQUIRED_FIELD");
        assert_eq!(error.to_string(), "Email is required");
    }
}
