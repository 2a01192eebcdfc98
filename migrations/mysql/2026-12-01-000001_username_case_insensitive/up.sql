-- Usernames are unique whatever their case: "alice" and "Alice" are one name.
-- (MariaDB has no expression indexes: an indexed generated column does it.)
ALTER TABLE users ADD COLUMN username_ci VARCHAR(30) AS (LOWER(username)) VIRTUAL;
CREATE UNIQUE INDEX users_username_ci_key ON users (username_ci);
