/// The config `triplegate serve` uses when given no file: everything goes to the built-in echo
/// upstream, so a fresh machine can try the gateway with nothing else running.
enum QuickStart {
    static let yaml = """
        server:
          listen: 0.0.0.0:8080
        admin:
          listen: 127.0.0.1:9901
        services:
          - name: echo
            upstream: builtin:echo
            routes:
              - name: everything
                paths: [/]
        """
}
