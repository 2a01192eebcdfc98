DROP INDEX users_username_ci_key;
