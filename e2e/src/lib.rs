//! End-to-end tests of AuraSpeak live in `tests/`: each starts the real server in-process
//! on port 0 with a fresh SQLite or PostgreSQL database and drives the real client
//! library, or the `auraspeak` binary, against it. This library is intentionally empty.
