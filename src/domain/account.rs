//! Account inputs: parsed from the request, trimmed, THEN checked (the seed checked
//! lengths before trimming and stored whitespace-only names as "").

use validator::{Validate, ValidationError};

use super::form::{Form, chars, failure, first_failure, has_stray_control, has_visible};
use crate::error::Error;

#[derive(Debug, Validate)]
pub struct RegisterInput {
    #[validate(custom(function = "username_rules"))]
    pub username: String,
    #[validate(custom(function = "email_rules"))]
    pub email: String,
    #[validate(custom(function = "password_rules"))]
    pub password: String,
    #[validate(custom(function = "full_name_rules"))]
    pub full_name: String,
}

impl RegisterInput {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let input = Self {
            username: form.required_string("username", "Username")?.trim().to_string(),
            email: normalize_email(&form.required_string("email", "Email")?),
            password: form.required_string("password", "Password")?,
            full_name: form.required_string("fullName", "Full name")?.trim().to_string(),
        };
        input.validate().map_err(|e| first_failure(e, &["username", "email", "password", "full_name"]))?;
        Ok(input)
    }
}

#[derive(Debug)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

impl LoginInput {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let email = normalize_email(&form.required_string("email", "Email")?);
        let password = form.required_string("password", "Password")?;
        if email.is_empty() {
            return Err(Error::MissingField("Email is required".into()));
        }
        if password.is_empty() {
            return Err(Error::MissingField("Password is required".into()));
        }
        email_rules(&email).map_err(|e| Error::invalid(e.message.unwrap_or_default()))?;
        Ok(Self { email, password })
    }
}

/// `PATCH /auth/profile`: any of fullName, email, password; changing email or
/// password needs `currentPassword`.
#[derive(Debug, Validate)]
pub struct ProfileUpdate {
    #[validate(custom(function = "full_name_rules"))]
    pub full_name: Option<String>,
    #[validate(custom(function = "email_rules"))]
    pub email: Option<String>,
    #[validate(custom(function = "password_rules"))]
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
        update.validate().map_err(|e| first_failure(e, &["full_name", "email", "password"]))?;
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

fn username_rules(value: &str) -> Result<(), ValidationError> {
    match chars(value) {
        0..3 => Err(failure("Username must be at least 3 characters long")),
        31.. => Err(failure("Username must be at most 30 characters long")),
        _ if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Err(failure("Username can only contain letters, numbers and underscores"))
        }
        _ => Ok(()),
    }
}

fn email_rules(value: &str) -> Result<(), ValidationError> {
    if chars(value) > 100 {
        return Err(failure("Email must be at most 100 characters long"));
    }
    if !validator::ValidateEmail::validate_email(&value) {
        return Err(failure("Invalid email address"));
    }
    Ok(())
}

fn password_rules(value: &str) -> Result<(), ValidationError> {
    match chars(value) {
        0..6 => Err(failure("Password must be at least 6 characters long")),
        101.. => Err(failure("Password must be at most 100 characters long")),
        _ => Ok(()),
    }
}

fn full_name_rules(value: &str) -> Result<(), ValidationError> {
    if has_stray_control(value, false) {
        return Err(failure("Full name must not contain control characters"));
    }
    if !has_visible(value) {
        return Err(failure("Full name must be at least 2 characters long"));
    }
    match chars(value) {
        0..2 => Err(failure("Full name must be at least 2 characters long")),
        101.. => Err(failure("Full name must be at most 100 characters long")),
        _ => Ok(()),
    }
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
    fn missing_field_has_its_own_code() {
        let error = RegisterInput::from_form(&form(r#"{"username":"ok_name"}"#)).unwrap_err();
        assert_eq!(error.code(), "MISSING_REQUIRED_FIELD");
        assert_eq!(error.to_string(), "Email is required");
    }
}
