-- Usernames are unique whatever their case: "alice" and "Alice" are one name.
CREATE UNIQUE INDEX users_username_ci_key ON users (lower(username));
