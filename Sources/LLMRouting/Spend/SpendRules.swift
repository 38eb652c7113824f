import GatewayCore
import NIOConcurrencyHelpers

/// One configuration's token limits and budgets (`llm.limits`, `llm.budgets`), built with its
/// snapshot. The counters keep, per rules, the plan each caller's calls to each model are
/// checked against (`SpendCounters.Plan`); the generation tells which rules a plan came from,
/// so a reload's new rules are planned afresh while the counts themselves carry over.
package final class SpendRules: Sendable {
    package let limits: [LLMTokenLimit]
    package let budgets: [LLMBudget]
    /// Increases with every rules made: newer rules have a larger one.
    let generation: UInt64

    package var isEmpty: Bool { limits.isEmpty && budgets.isEmpty }

    private static let made = NIOLockedValueBox<UInt64>(0)

    package init(limits: [LLMTokenLimit] = [], budgets: [LLMBudget] = []) {
        self.limits = limits
        self.budgets = budgets
        generation = Self.made.withLockedValue { n in
            n += 1
            return n
        }
    }
}
