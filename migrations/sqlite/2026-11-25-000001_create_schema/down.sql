DROP TABLE messages;
DROP TABLE room_bans;
DROP TABLE room_members;
DROP TABLE rooms;
DROP TABLE refresh_tokens;
DROP TABLE auth_sessions;
DROP TABLE users;
