CREATE TABLE users (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    username VARCHAR(30) COLLATE utf8mb4_bin NOT NULL,
    email VARCHAR(100) COLLATE utf8mb4_bin NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    full_name VARCHAR(100) NOT NULL,
    is_online BOOLEAN NOT NULL DEFAULT 0,
    last_seen DATETIME(6),
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE auth_sessions (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    user_id VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at DATETIME(6) NOT NULL,
    revoked_at DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id);

CREATE TABLE refresh_tokens (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    session_id VARCHAR(36) NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    user_id VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash VARCHAR(128) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at DATETIME(6),
    created_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE rooms (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    name VARCHAR(100) NOT NULL,
    description TEXT,
    is_private BOOLEAN NOT NULL DEFAULT 0,
    invite_code VARCHAR(32) COLLATE utf8mb4_bin,
    created_by VARCHAR(36) NOT NULL REFERENCES users (id),
    last_seq BIGINT NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX rooms_invite_code_key ON rooms (invite_code);
CREATE INDEX rooms_public_idx ON rooms (is_private, created_at);

CREATE TABLE room_members (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    room_id VARCHAR(36) NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role VARCHAR(10) NOT NULL DEFAULT 'member',
    last_read_seq BIGINT NOT NULL DEFAULT 0,
    last_read_at DATETIME(6),
    joined_at DATETIME(6) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX room_members_room_user_key ON room_members (room_id, user_id);
CREATE INDEX room_members_user_idx ON room_members (user_id);

CREATE TABLE room_bans (
    room_id VARCHAR(36) NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    banned_by VARCHAR(36) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (room_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE messages (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    room_id VARCHAR(36) NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    sender_id VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    client_msg_id VARCHAR(64) COLLATE utf8mb4_bin,
    content TEXT NOT NULL,
    message_type VARCHAR(10) NOT NULL DEFAULT 'text',
    is_edited BOOLEAN NOT NULL DEFAULT 0,
    edited_at DATETIME(6),
    deleted_at DATETIME(6),
    delivered_at DATETIME(6),
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX messages_room_seq_key ON messages (room_id, seq);
CREATE UNIQUE INDEX messages_sender_client_msg_key ON messages (sender_id, client_msg_id);
CREATE INDEX messages_room_created_idx ON messages (room_id, created_at);
