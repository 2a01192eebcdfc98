# Sourced by the bench scripts: the server's environment for a benchmark.
# Limits out of the way (the load generator measures the server, not its
# limiter), cheap password hashing for the fixture's users, warnings only.
# The caller sets DATABASE_URL and PORT (and what else its setup needs).
export JWT_SEC=${JWT_SEC:-bench-secret-0123456789abcdef0123456789abcdef} \
  RTCHAT_LIMITS__MESSAGES_MAX=1000000000 RTCHAT_LIMITS__API_MAX=1000000000 RTCHAT_LIMITS__CONNECTIONS_IP_MAX=1000000000 \
  RTCHAT_REALTIME__EVENTS_PER_MINUTE=1000000000 RTCHAT_AUTH__BCRYPT_COST=4 RUST_LOG=warn
