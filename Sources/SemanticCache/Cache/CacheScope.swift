/// What must be equal for two requests to share a cached answer. A semantic hit is searched
/// only among entries of the same scope (each scope has an index of its own), so an answer can
/// never cross tenants, models, system prompts, sampling parameters or conversations.
package struct CacheScope: Sendable, Hashable, Codable {
    /// The tenant: the caller's team (or consumer when it has none); "" when shared.
    package var tenant: String
    /// The model the caller asked for.
    package var model: String
    /// A hash of the system prompt ("" when the scope leaves it out).
    package var systemPrompt: String
    /// A hash of the parameters that change an answer (temperature, tools, response format...).
    package var parameters: String
    /// A hash of everything in the request but the last message's text (earlier turns, tool
    /// calls and results, images, tools, every parameter): a similar answer is one to the same
    /// conversation, asked in other words. "" only in entries kept before it existed, which
    /// therefore never match again.
    package var context: String

    package init(tenant: String, model: String, systemPrompt: String = "", parameters: String = "", context: String = "") {
        self.tenant = tenant
        self.model = model
        self.systemPrompt = systemPrompt
        self.parameters = parameters
        self.context = context
    }

    private enum CodingKeys: String, CodingKey { case tenant, model, systemPrompt, parameters, context }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tenant = try c.decode(String.self, forKey: .tenant)
        model = try c.decode(String.self, forKey: .model)
        systemPrompt = try c.decode(String.self, forKey: .systemPrompt)
        parameters = try c.decode(String.self, forKey: .parameters)
        context = try c.decodeIfPresent(String.self, forKey: .context) ?? ""
    }
}

/// An answer kept for reuse, as the gate will replay it: the whole response (a chat completion
/// in OpenAI's format, whatever dialect the caller speaks) and what it cost, which every hit
/// saves.
package struct CachedAnswer: Sendable, Equatable, Codable {
    package var body: [UInt8]
    package var provider: String
    package var servedModel: String
    package var inputTokens: Int
    package var outputTokens: Int
    package var costMicros: Int64

    package init(body: [UInt8], provider: String, servedModel: String, inputTokens: Int, outputTokens: Int, costMicros: Int64) {
        self.body = body
        self.provider = provider
        self.servedModel = servedModel
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costMicros = costMicros
    }
}
