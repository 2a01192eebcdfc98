DROP INDEX users_username_ci_key ON users;
ALTER TABLE users DROP COLUMN username_ci;
