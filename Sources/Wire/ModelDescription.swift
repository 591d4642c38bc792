import Model

/// `GET /model`: what the server trains and how.
public struct ModelDescription: Sendable, Equatable {
    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
    }

    public struct Optimizer: Sendable, Equatable {
        public var configuration: OptimizerConfiguration
        /// Steps applied so far, and the rate of the next one.
        public var step: Int
        public var currentLearningRate: Float

        public init(configuration: OptimizerConfiguration, step: Int, currentLearningRate: Float) {
            self.configuration = configuration
            self.step = step
            self.currentLearningRate = currentLearningRate
        }
    }

    /// "mlp" or "gcn".
    public var model: String
    /// mlp: [D, H1, ..., Hn]; gcn: [F, hidden widths...].
    public var layers: [Int]
    /// gcn only: "sum" or "mean".
    public var readout: String?
    /// The hidden layers' activation, the outputs K, the loss and whether the output layer has a bias.
    public var options: NetworkOptions
    public var parameters: [Parameter]
    public var optimizer: Optimizer
    public var maxStaleness: Int
    public var version: Int

    public init(model: String, layers: [Int], readout: String?, options: NetworkOptions, layout: ParameterLayout,
                optimizer: Optimizer, maxStaleness: Int, version: Int) {
        self.model = model
        self.layers = layers
        self.readout = readout
        self.options = options
        self.parameters = layout.entries.map { Parameter(name: $0.name, shape: $0.shape) }
        self.optimizer = optimizer
        self.maxStaleness = maxStaleness
        self.version = version
    }

    /// The layout the server's tensors follow, rebuilt from the parameter list.
    public var layout: ParameterLayout { ParameterLayout(parameters.map { ($0.name, $0.shape) }) }

    public func encode(to writer: inout JSONWriter) {
        writer.object { w in
            w.key("model"); w.string(model)
            w.key("layers"); w.array { w in for size in layers { w.number(size) } }
            if let readout { w.key("readout"); w.string(readout) }
            w.key("activation"); w.string(options.activation.rawValue)
            w.key("outputs"); w.number(options.outputs)
            w.key("loss"); w.string(options.loss.rawValue)
            w.key("output_bias"); w.bool(options.outputBias)
            w.key("parameters"); w.layout(layout)
            w.key("optimizer"); optimizer.encode(to: &w)
            w.key("max_staleness"); w.number(maxStaleness)
            w.key("version"); w.number(version)
        }
    }

    public init(reading reader: inout JSONReader) throws {
        var model: String?, layers: [Int]?, readout: String?
        var options = NetworkOptions(), outputBias: Bool?
        var parameters: [Parameter]?, optimizer: Optimizer?, maxStaleness: Int?, version: Int?
        try reader.readObject { reader, key in
            switch key {
            case "model": model = try reader.readString()
            case "layers":
                // Layer widths, not a tensor's shape: their product and their count are not a tensor's.
                var sizes: [Int] = []
                try reader.readArray { reader, _ in
                    guard sizes.count < 1024 else { throw reader.invalid("layers: more than 1024 sizes") }
                    sizes.append(try reader.readInt(in: 1...(1 << 31)))
                }
                layers = sizes
            case "readout": readout = try reader.readString()
            case "activation": options.activation = try reader.readEnum(Activation.self)
            case "outputs": options.outputs = try reader.readInt(in: 1...65_536)
            case "loss": options.loss = try reader.readEnum(Loss.self)
            case "output_bias": outputBias = try reader.readBool()
            case "parameters":
                parameters = try reader.readLayout().entries.map { Parameter(name: $0.name, shape: $0.shape) }
            case "optimizer": optimizer = try Optimizer(reading: &reader)
            case "max_staleness": maxStaleness = try reader.readInt()
            case "version": version = try reader.readInt()
            default: try reader.skipValue()
            }
        }
        guard let model, let layers, let parameters, let optimizer, let version else {
            throw reader.invalid("expected model, layers, parameters, optimizer and version")
        }
        self.model = model
        self.layers = layers
        self.readout = readout
        // Servers before the configurable heads had no output_bias field: their graph networks had one.
        options.outputBias = outputBias ?? (model == "gcn")
        self.options = options
        self.parameters = parameters
        self.optimizer = optimizer
        self.maxStaleness = maxStaleness ?? 0
        self.version = version
    }
}

extension ModelDescription.Optimizer {
    func encode(to writer: inout JSONWriter) {
        let c = configuration
        writer.object { w in
            w.key("name"); w.string(c.kind.rawValue)
            w.key("learning_rate"); w.number(c.learningRate)
            switch c.kind {
            case .sgd: break
            case .momentum: w.key("momentum"); w.number(c.momentum)
            case .adam:
                w.key("beta1"); w.number(c.beta1)
                w.key("beta2"); w.number(c.beta2)
                w.key("epsilon"); w.number(c.epsilon)
            }
            w.key("clip_norm")
            if let clipNorm = c.clipNorm { w.number(clipNorm) } else { w.null() }
            w.key("schedule")
            w.object { w in
                switch c.schedule {
                case .constant:
                    w.key("name"); w.string("constant")
                case .cosine(let decaySteps, let finalFactor):
                    w.key("name"); w.string("cosine")
                    w.key("decay_steps"); w.number(decaySteps)
                    w.key("final_factor"); w.number(finalFactor)
                }
            }
            w.key("step"); w.number(step)
            w.key("current_learning_rate"); w.number(currentLearningRate)
        }
    }

    init(reading reader: inout JSONReader) throws {
        var c = OptimizerConfiguration()
        var step = 0, current: Float = 0
        try reader.readObject { reader, key in
            switch key {
            case "name":
                c.kind = try reader.readEnum(OptimizerConfiguration.Kind.self)
            case "learning_rate": c.learningRate = try reader.readFloat()
            case "momentum": c.momentum = try reader.readFloat()
            case "beta1": c.beta1 = try reader.readFloat()
            case "beta2": c.beta2 = try reader.readFloat()
            case "epsilon": c.epsilon = try reader.readFloat()
            case "clip_norm": c.clipNorm = try reader.readNullIfPresent() ? nil : try reader.readFloat()
            case "schedule":
                var name = "constant", decaySteps = 1, finalFactor: Float = 1
                try reader.readObject { reader, key in
                    switch key {
                    case "name": name = try reader.readString()
                    case "decay_steps": decaySteps = try reader.readInt()
                    case "final_factor": finalFactor = try reader.readFloat()
                    default: try reader.skipValue()
                    }
                }
                c.schedule = name == "cosine" ? .cosine(decaySteps: decaySteps, finalFactor: finalFactor) : .constant
            case "step": step = try reader.readInt()
            case "current_learning_rate": current = try reader.readFloat()
            default: try reader.skipValue()
            }
        }
        self.init(configuration: c, step: step, currentLearningRate: current)
    }
}
