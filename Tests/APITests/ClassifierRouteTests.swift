import Model
import Testing
import Wire
@testable import API

/// A configured head through the routes: a deeper ReLU network with three classes.
@Suite struct ClassifierRouteTests {
    let options = NetworkOptions(activation: .relu, outputs: 3, loss: .softmaxCrossEntropy, outputBias: true)

    func app() throws -> InProcessApp {
        try InProcessApp { $0.network = .mlp(layers: [2, 5, 4, 3], options: options) }
    }

    @Test func modelDescribesTheWholeArchitecture() throws {
        let model = try app()("GET", "/model").decode { try ModelDescription(reading: &$0) }
        #expect(model.layers == [2, 5, 4, 3])
        #expect(model.options == options)
        #expect(model.parameters.map(\.name) == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"])
        #expect(model.parameters.map(\.shape) == [[5, 2], [5], [4, 5], [4], [3, 4], [3], [3, 3], [3]])
        // Enough to rebuild the same network: the same layout from the description alone.
        #expect(try MLP(layers: model.layers, options: model.options).layout == model.layout)
    }

    @Test func forwardAnswersOutputsProbabilitiesAndClasses() throws {
        let app = try app()
        let samples = [Sample(x: [0.5, -1], t: 0), Sample(x: [2, 1], t: 0)]
        let answer = app("POST", "/forward", json { ForwardRequest(samples: samples).encode(to: &$0) })
        #expect(answer.status == .ok)
        let forward = try answer.decode { try ForwardResponse(reading: &$0) }
        let mlp = try MLP(layers: [2, 5, 4, 3], options: options)
        let parameters = mlp.makeParameters(.glorot, seed: 42)
        // Same code path, inputs and kernel as the server: bit for bit.
        let outputs = try mlp.outputs(for: samples.map(\.input), parameters: parameters)
        #expect(forward.outputCount == 3)
        #expect(forward.outputs == outputs)
        let probabilities = try #require(forward.probabilities)
        for i in 0..<2 {
            let row = Array(probabilities[(3 * i)..<(3 * i + 3)])
            // Softmax in Float32: the sum is 1 within three roundings of each term and two of the sum.
            #expect(abs(row.reduce(0, +) - 1) <= 5 * 0x1p-24)
            #expect(forward.classes?[i] == row.indices.max { row[$0] < row[$1] })
        }
        #expect(answer.text.contains(#""outputs":[["#), "rows of K outputs: \(answer.text)")
    }

    @Test(arguments: [
        (#"{"samples": [{"x": [1, 2], "t": 3}]}"#, "samples[0].t: expected a class index, an integer in [0, 3), got 3.0"),
        (#"{"samples": [{"x": [1, 2], "t": 0.5}]}"#, "samples[0].t: expected a class index, an integer in [0, 3), got 0.5"),
        (#"{"samples": [{"x": [1, 2], "t": 1}, {"x": [1, 2], "t": [0, 1, 0]}]}"#, "samples[1].t: expected a class index, an integer in [0, 3), got a list of 3"),
        (#"{"samples": [{"x": [1, 2], "t": -1}]}"#, "samples[0].t: expected a class index, an integer in [0, 3), got -1.0"),
    ])
    func badTargetsAre422AndChangeNothing(body: String, message: String) throws {
        let app = try app()
        let before = app("GET", "/checkpoint").text
        let response = app("POST", "/gradients", body)
        #expect(response.status.code == 422)
        #expect(response.error?.code == "invalid_target")
        #expect(response.error?.message == message)
        #expect(app("GET", "/checkpoint").text == before)
    }

    @Test func severalRegressionTargetsAreLists() throws {
        let app = try InProcessApp { $0.network = .mlp(layers: [2, 3], options: NetworkOptions(outputs: 2)) }
        let good = app("POST", "/gradients", #"{"samples": [{"x": [1, 2], "t": [0.5, -1]}]}"#)
        #expect(good.status == .ok)
        #expect(good.text.contains(#""output":["#), "\(good.text)")
        let bad = app("POST", "/gradients", #"{"samples": [{"x": [1, 2], "t": 0.5}]}"#)
        #expect(bad.error?.message == "samples[0].t: expected a list of 2 numbers (one per output), got a number")
    }
}
