import NIOConcurrencyHelpers

/// What the admin API reports: the config being served and whether the gateway is ready.
/// Read off the hot path only, so a lock is fine here.
package final class GatewayState: Sendable {
    private let box: NIOLockedValueBox<(config: GatewayConfig, ready: Bool, lastReloadError: String?)>

    package init(config: GatewayConfig) {
        box = NIOLockedValueBox((config, false, nil))
    }

    package var config: GatewayConfig { box.withLockedValue { $0.config } }
    package var isReady: Bool { box.withLockedValue { $0.ready } }
    package var lastReloadError: String? { box.withLockedValue { $0.lastReloadError } }

    package func markReady() { box.withLockedValue { $0.ready = true } }

    func applied(_ config: GatewayConfig) {
        box.withLockedValue {
            $0.config = config
            $0.lastReloadError = nil
        }
    }

    func rejected(_ reason: String) { box.withLockedValue { $0.lastReloadError = reason } }
}
