//! Helpers shared by the integration tests (and the endpoint bench example).

pub mod mock_server;
