//! The `.mcpgw` policy language.
