// The AI gate (issues 4 and 5): OpenAI- and Anthropic-compatible ingress, provider adapters,
// model routing and failover, token limits, budgets, the cost ledger and chargeback.
// Nothing is built here yet; the data plane, policies and stores it will use live in GatewayCore.
