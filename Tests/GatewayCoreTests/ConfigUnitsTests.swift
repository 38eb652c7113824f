import GatewayCore
import Testing

@Suite struct ConfigUnitsTests {
    @Test(arguments: [("250ms", Duration.milliseconds(250)), ("5s", .seconds(5)), ("2m", .seconds(120)), ("1h", .seconds(3600)), ("1.5s", .milliseconds(1500)), ("3", .seconds(3))])
    func durationsParse(text: String, expected: Duration) {
        #expect(ConfigDuration.parse(text) == expected)
    }

    @Test func badDurationsDoNotParse() {
        for text in ["", "s", "-1s", "5 parsecs", "1y"] { #expect(ConfigDuration.parse(text) == nil, "\(text)") }
    }

    @Test func durationsFormatShortest() {
        #expect(ConfigDuration.format(.seconds(60)) == "1m")
        #expect(ConfigDuration.format(.milliseconds(250)) == "250ms")
        #expect(ConfigDuration.format(.seconds(75)) == "75s")
    }

    @Test func sizesParse() {
        #expect(ConfigByteSize.parse("8KiB") == 8192)
        #expect(ConfigByteSize.parse("10MiB") == 10 << 20)
        #expect(ConfigByteSize.parse("1GB") == 1 << 30)
        #expect(ConfigByteSize.parse("512") == 512)
        #expect(ConfigByteSize.parse("lots") == nil)
    }

    @Test func upstreamURLsParse() throws {
        let u = try UpstreamURL.parse("http://127.0.0.1:9101/base/").get()
        #expect(u.host == "127.0.0.1" && u.port == 9101 && u.basePath == "/base" && u.scheme == .http)
        let s = try UpstreamURL.parse("https://api.example.com").get()
        #expect(s.port == 443 && s.hostForHeader == "api.example.com")
        let v6 = try UpstreamURL.parse("http://[::1]:8080").get()
        #expect(v6.host == "::1" && v6.hostForHeader == "[::1]:8080")
        #expect((try? UpstreamURL.parse("http://h:99999").get()) == nil)
        #expect((try? UpstreamURL.parse("h:1").get()) == nil)
    }
}
