import Model
import Testing
import Wire
@testable import API

/// `per_sample_clip_norm` on `/gradients`: the same clipping as the model library, both answers.
@Suite struct ClippingRouteTests {
    @Test func perSampleAndSummedAnswersClipAndReportTheNorms() throws {
        let app = try InProcessApp()
        let mlp = try MLP(layers: [3, 3, 3])
        let parameters = mlp.makeParameters(.glorot, seed: 42)
        let samples = [Sample(x: [1, 2, 3], t: 9), Sample(x: [0.1, 0.1, 0.1], t: 0), Sample(x: [-2, 1, 0], t: -4)]
        var expected = try mlp.gradients(of: samples, parameters: parameters)
        let norms = expected.clip(to: 0.5)
        let clippedCount = norms.filter { $0 > 0.5 }.count
        #expect(clippedCount > 0 && clippedCount < 3, "\(norms)")

        let perSample = app("POST", "/gradients", json { GradientsRequest(samples: samples, perSampleClipNorm: 0.5).encode(to: &$0) })
        let answer = try perSample.decode { try GradientsResponse(reading: &$0) }
        // Same code path, inputs and kernel as this process: bit for bit.
        #expect(answer.results.map(\.norm) == norms.map { Float($0) })
        for (i, result) in answer.results.enumerated() {
            #expect(try TensorSet(layout: mlp.layout, tensors: result.gradients) == expected.gradient(i))
        }
        #expect(perSample.text.contains(#""clipped":\#(clippedCount)"#))

        let summed = app("POST", "/gradients", json { GradientsRequest(samples: samples, reduce: .sum, perSampleClipNorm: 0.5).encode(to: &$0) })
        let sum = try summed.decode { try GradientsResponse(reading: &$0) }
        var total = [Double](repeating: 0, count: mlp.layout.count)
        for (k, value) in expected.storage.enumerated() { total[k % mlp.layout.count] += Double(value) }
        #expect(try TensorSet(layout: mlp.layout, tensors: sum.sum ?? [:]).storage == total.map { Float($0) })
        #expect(sum.results.map(\.norm) == norms.map { Float($0) })
        #expect(summed.text.contains(#""clipped":\#(clippedCount)"#))
    }

    @Test func aClipNormThatIsNotAboveZeroIsRefused() throws {
        let app = try InProcessApp()
        for value in ["0", "-1"] {
            let response = app("POST", "/gradients", #"{"samples": [{"x": [1, 2, 3], "t": 1}], "per_sample_clip_norm": \#(value)}"#)
            #expect(response.status.code == 400)
            #expect(response.error?.message.hasPrefix("per_sample_clip_norm: expected a number above 0") == true, "\(response.error?.message ?? "")")
        }
    }
}
