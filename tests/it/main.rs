//! The integration tests: one binary (one link), one module per suite, and the helpers in
//! [`support`], which start the real binaries and talk to them.

mod support;

mod cli_policy_tools;
mod deploy_script;
mod direct_mode;
mod dsl_docs;
mod dsl_roundtrip;
mod faults_client_input;
mod faults_downstream;
mod faults_policy_bypass;
mod faults_secrets;
mod fixture_server;
mod fuzz_regressions;
mod gateway_downstream;
mod gateway_errors;
mod gateway_everything;
mod gateway_identity_audit;
mod gateway_reload;
mod gateway_shutdown;
mod gateway_smoke;
mod gateway_tools;
mod http_auth;
mod http_endpoints;
mod http_limits;
mod http_sessions;
mod http_shutdown;
mod http_tools;
mod input_rounds;
mod isolation;
mod json_front_ends;
mod lock;
mod oauth;
mod pass_through;
mod policy_kinds_cli;
mod policy_props;
mod policy_semantics;
mod replicas;
mod resources_prompts;
mod sdk_clients;
mod search_quality;
mod search_tools;
mod security;
mod subscriptions;
mod tasks;
mod telemetry;
