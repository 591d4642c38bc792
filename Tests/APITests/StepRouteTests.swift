import Foundation
import Model
import Testing
import Wire
import HTTP
import Locking
@testable import API

/// `POST /step` against the two requests it replaces.
@Suite struct StepRouteTests {
    let mlp = try! MLP(layers: [3, 3, 3])

    func samples(_ seed: UInt64, _ count: Int) -> [Sample] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Sample(x: (0..<3).map { _ in Float.random(in: -1..<1, using: &generator) }, t: Float.random(in: 0..<2, using: &generator)) }
    }

    /// A step answers what `/apply` and then `/gradients` answer, bit for bit: the same apply, and
    /// each part's gradients at the version it made (same code path, inputs and kernel).
    @Test(arguments: [(Reduction.none, ResultsForm.perSample), (.sum, .perSample), (.sum, .sum)])
    func aStepIsApplyThenGradients(reduce: Reduction, results: ResultsForm) throws {
        let stepped = try InProcessApp { $0.optimizer = OptimizerConfiguration(kind: .adam, learningRate: 0.01) }
        let twice = try InProcessApp { $0.optimizer = OptimizerConfiguration(kind: .adam, learningRate: 0.01) }
        let gradient = try mlp.gradients(of: samples(1, 4), parameters: mlp.makeParameters(.glorot, seed: 42)).mean()
        let parts = [samples(2, 3), samples(3, 2)]

        var writer = JSONWriter()
        writer.stepRequest(gradients: gradient, version: 0, parts: parts, reduce: reduce, format: .b64, perSampleClipNorm: nil, results: results)
        let step = stepped("POST", "/step", String(decoding: writer.bytes, as: UTF8.self))
        #expect(step.status == .ok, "\(step.text.prefix(300))")
        #expect(!step.isSequenced, "a synchronous step's parts may be served on several loops at once")
        let answer = try step.decode { try StepResponse(reading: &$0, layout: mlp.layout) }

        let applied = twice("POST", "/apply", json { TensorsRequest(tensors: gradient.namedTensors, version: 0).encode(to: &$0, field: "gradients") })
        let state = try applied.decode { try VersionResponse(reading: &$0) }
        #expect(answer.state == state, "version, digest and learning rate")
        for (i, part) in parts.enumerated() {
            // Asked with per-sample results: the step's loss sum, if it sent only that, must be their sum.
            let alone = twice("POST", "/gradients", json { GradientsRequest(samples: part, reduce: reduce, tensorFormat: .b64).encode(to: &$0) })
            let expected = try alone.decode { try GradientPartialSum(reading: &$0, layout: mlp.layout) }
            #expect(answer.parts[i].version == 1)
            #expect(answer.parts[i].sum == expected.sum, "part \(i)")
            #expect(answer.parts[i].samples == part.count, "part \(i)")
            #expect(answer.parts[i].lossSum == expected.lossSum, "part \(i)")
        }
        #expect(stepped("GET", "/checkpoint").text == twice("GET", "/checkpoint").text)
    }

    /// Pipelined staleness: steps sent ahead of their turn (`if_version` up to `max_staleness`
    /// ahead) wait for the steps before them and land in order, whatever order they came in: the
    /// state is the one the same steps make sent in order. One whose turn never comes is refused
    /// with 409 after the wait, having changed nothing; one too far ahead is refused at once.
    @Test func stepsSentAheadOfTheirTurnLandInOrder() throws {
        func configure(wait: Duration) -> (inout GradserveConfiguration) -> Void {
            {
                $0.maxStaleness = 3
                $0.optimizer = OptimizerConfiguration(kind: .adam, learningRate: 0.01)
                $0.requests.stepWait = wait
            }
        }
        // A wait no loaded test machine runs out of, and one the last case does run out of.
        let parked = try InProcessApp(configure(wait: .seconds(120))), inOrder = try InProcessApp(configure(wait: .seconds(120)))
        let impatient = try InProcessApp(configure(wait: .milliseconds(200)))
        let parameters = mlp.makeParameters(.glorot, seed: 42)
        func body(_ step: Int) -> String {
            var writer = JSONWriter()
            let gradient = try! mlp.gradients(of: samples(UInt64(10 + step), 4), parameters: parameters).mean()
            writer.stepRequest(gradients: gradient, version: 0, ifVersion: step, parts: [samples(UInt64(20 + step), 2)], reduce: .sum,
                               format: .b64, perSampleClipNorm: nil, results: .sum)
            return String(decoding: writer.bytes, as: UTF8.self)
        }
        let answers = Locked<[String: HTTPResponse]>([:])
        parked.send("2", "POST", "/step", body(2), to: answers)
        parked.send("1", "POST", "/step", body(1), to: answers)
        #expect(answers.withLock { $0.isEmpty }, "both wait")
        #expect(parked.gradserve.store.waitingWrites == 2)
        parked.send("far", "POST", "/step", body(5), to: answers)
        #expect(answers.withLock { $0["far"]?.error?.message } == "if_version: expected the current version to be 5, it is 0")
        parked.send("0", "POST", "/step", body(0), to: answers)
        let landed = answers.withLock { $0 }
        for step in 0...2 {
            let expected = inOrder("POST", "/step", body(step))
            #expect(landed["\(step)"]?.status == .ok, "\(landed["\(step)"]?.text.prefix(200) ?? "no answer")")
            #expect(landed["\(step)"]?.text == expected.text, "step \(step): the same state and gradients as in order")
            #expect(landed["\(step)"]?.isSequenced == true, "step \(step): a pipelined step's connection joins the others on one loop")
        }
        #expect(parked("GET", "/checkpoint").text == inOrder("GET", "/checkpoint").text)

        // Steps 1 and then 2 without step 0: each is refused once its own wait runs out (one timer
        // serves both: it fires for the first and looks again when the second is due), and nothing changes.
        let before = impatient("GET", "/checkpoint").text
        impatient.send("late", "POST", "/step", body(1), to: answers)
        Thread.sleep(forTimeInterval: 0.1)
        impatient.send("later", "POST", "/step", body(2), to: answers)
        let deadline = ContinuousClock.now + .seconds(30)
        while answers.withLock({ $0["late"] == nil || $0["later"] == nil }), ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(answers.withLock { $0["late"]?.status.code } == 409)
        #expect(answers.withLock { $0["late"]?.error?.message } == "if_version: expected the current version to be 1, it is 0")
        #expect(answers.withLock { $0["later"]?.error?.message } == "if_version: expected the current version to be 2, it is 0")
        #expect(impatient("GET", "/checkpoint").text == before)
        #expect(impatient.gradserve.store.waitingWrites == 0)
    }

    @Test func aRefusedStepChangesNothingAndComputesNothing() throws {
        let app = try InProcessApp()
        let before = app("GET", "/checkpoint").text
        let zero = #"{"W1": {"shape": [3, 3], "data": [0,0,0,0,0,0,0,0,0]}}"#
        for (body, status, message) in [
            (#"{"gradients": \#(zero), "version": 3, "parts": [[{"x": [1, 2, 3], "t": 1}]]}"#, 409, "version 3 is ahead of the current version 0"),
            (#"{"gradients": \#(zero), "parts": [[{"x": [1, 2, 3], "t": 1}]]}"#, 400, "missing field version: the base version the gradients were computed at (a step is never applied blind)"),
            (#"{"gradients": \#(zero), "version": 0, "parts": [[{"x": [1, 2, 3], "t": 1}], [{"x": [1, 2], "t": 1}]]}"#, 422, "parts[1].samples[0].x: expected [3], got [2]"),
            (#"{"gradients": \#(zero), "version": 0, "parts": [[]]}"#, 422, "parts[0]: expected at least one sample"),
            (#"{"version": 0}"#, 400, "missing field parts (an array of sample arrays, each answered like /gradients)"),
            (#"{"gradients": \#(zero), "version": 0, "parts": [[{"x": [1, 2, 3], "t": 1}]], "results": "sum"}"#, 400,
             #"results: "sum" needs "reduce": "sum" (per-sample gradients come with per-sample results)"#),
        ] {
            let response = app("POST", "/step", body)
            #expect(response.status.code == status, "\(body)")
            #expect(response.error?.message == message, "\(response.error?.message ?? "")")
            #expect(app("GET", "/checkpoint").text == before)
        }
    }

    /// The body of a pipelined step of the 3,3,3 network: the mean of four samples' gradients at
    /// the first parameters, landing on `ifVersion`, with one part of two samples.
    func pipelinedStep(_ ifVersion: Int, to writer: inout JSONWriter) {
        let parameters = mlp.makeParameters(.glorot, seed: 42)
        let gradient = try! mlp.gradients(of: samples(UInt64(10 + ifVersion), 4), parameters: parameters).mean()
        writer.stepRequest(gradients: gradient, version: 0, ifVersion: ifVersion, parts: [samples(UInt64(20 + ifVersion), 2)], reduce: .sum,
                           format: .b64, perSampleClipNorm: nil, results: .sum)
    }

    func stepsBody(_ versions: [Int]) -> String {
        var writer = JSONWriter()
        writer.object { w in
            w.key("steps")
            w.array { w in for version in versions { pipelinedStep(version, to: &w) } }
        }
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    func stepBody(_ version: Int) -> String {
        var writer = JSONWriter()
        pipelinedStep(version, to: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    func staleness(_ configuration: inout GradserveConfiguration) {
        configuration.maxStaleness = 3
        configuration.optimizer = OptimizerConfiguration(kind: .adam, learningRate: 0.01)
        configuration.requests.stepWait = .seconds(120)
    }

    /// `/steps` answers, byte for byte, what the same steps sent one `/step` at a time answer
    /// (`{"steps": [...]}` around them), and leaves the same state. A `/steps` ahead of its turn waits
    /// for the step before it, as a `/step` does.
    @Test func severalStepsInOneRequestAnswerAsManySteps() throws {
        let together = try InProcessApp(staleness), apart = try InProcessApp(staleness)
        let answers = Locked<[String: HTTPResponse]>([:])
        together.send("1-3", "POST", "/steps", stepsBody([1, 2, 3]), to: answers)
        #expect(answers.withLock { $0.isEmpty }, "steps 1 to 3 wait for step 0")
        together.send("0", "POST", "/steps", stepsBody([0]), to: answers)
        let landed = answers.withLock { $0 }
        let one = (0...3).map { apart("POST", "/step", stepBody($0)) }
        #expect(one.allSatisfy { $0.status == .ok })
        #expect(landed["0"]?.text == #"{"steps":["# + one[0].text + "]}")
        #expect(landed["1-3"]?.text == #"{"steps":["# + one[1...3].map(\.text).joined(separator: ",") + "]}")
        #expect(landed["1-3"]?.isSequenced == true)
        #expect(together("GET", "/checkpoint").text == apart("GET", "/checkpoint").text)
        #expect(together.gradserve.store.snapshot().version == 4)
        let read = try landed["1-3"]!.decode { try StepsResponse(reading: &$0, layout: mlp.layout) }
        #expect(read.steps.map(\.state.version) == [2, 3, 4])
        #expect(read.steps.map { $0.parts.map(\.version) } == [[2], [3], [4]])
    }

    /// Every step of a `/steps` is checked before any lands: a bad one anywhere changes nothing and
    /// its error names it. A later step that fails when it lands leaves the steps before it landed,
    /// and says so.
    @Test func aRefusedStepsRequestChangesNothing() throws {
        let app = try InProcessApp(staleness)
        let before = app("GET", "/checkpoint").text
        let zero = #"{"W1": {"shape": [3, 3], "data": [0,0,0,0,0,0,0,0,0]}}"#
        let good = #"{"gradients": \#(zero), "version": 0, "if_version": 0, "parts": [[{"x": [1, 2, 3], "t": 1}]]}"#
        func step(_ ifVersion: Int, gradients: String = zero, parts: String = #"[[{"x": [1, 2, 3], "t": 1}]]"#) -> String {
            #"{"gradients": \#(gradients), "version": 0, "if_version": \#(ifVersion), "parts": \#(parts)}"#
        }
        let many = (0..<65).map { step($0) }.joined(separator: ",")
        for (body, status, message) in [
            (#"{}"#, 400, "missing field steps (an array of /step bodies, landed in order)"),
            (#"{"steps": []}"#, 400, "steps: expected at least one step"),
            (#"{"steps": [\#(good), {"version": 0, "if_version": 1, "parts": []}]}"#, 400,
             "steps[1]: missing field gradients: every step of /steps applies a mean"),
            (#"{"steps": [\#(good), {"gradients": \#(zero), "version": 0, "parts": []}]}"#, 400,
             "steps[1]: missing field if_version: the version the step lands on"),
            (#"{"steps": [\#(good), \#(step(2))]}"#, 422, "steps[1].if_version: expected one more than steps[0]'s 0, got 2"),
            (#"{"steps": [\#(step(9223372036854775807)), \#(step(0))]}"#, 422, "steps[1].if_version: expected one more than steps[0]'s 9223372036854775807, got 0"),
            (#"{"steps": [\#(good), \#(step(1, parts: #"[[{"x": [1, 2], "t": 1}]]"#))]}"#, 422, "steps[1].parts[0].samples[0].x: expected [3], got [2]"),
            (#"{"steps": [\#(good), \#(step(1, parts: "[[]]"))]}"#, 422, "steps[1].parts[0]: expected at least one sample"),
            (#"{"steps": [\#(good), \#(step(1, gradients: #"{"W1": {"shape": [3], "data": [0, 0, 0]}}"#))]}"#, 422,
             "steps[1].gradients.W1: expected [3,3], got [3]"),
            (#"{"steps": [\#(many)]}"#, 400, "steps[64]: more than 64 steps in one request"),
            (#"{"steps": [\#(step(1))]}"#, 409, "steps[0]: if_version: expected the current version to be 1, it is 0 (the version is 0)"),
        ] {
            let response = app("POST", "/steps", body)
            #expect(response.status.code == status, "\(body.prefix(200))")
            #expect(response.error?.message == message, "\(response.error?.message ?? "")")
            #expect(app("GET", "/checkpoint").text == before)
        }
        // Plain SGD at a learning rate of 10 takes a gradient of 1e38 past Float32's largest value.
        let sgd = try InProcessApp {
            $0.maxStaleness = 3
            $0.optimizer = OptimizerConfiguration(kind: .sgd, learningRate: 10)
        }
        let huge = #"{"W1": {"shape": [3, 3], "data": [1e38,0,0,0,0,0,0,0,0]}}"#
        let failed = sgd("POST", "/steps", #"{"steps": [\#(good), \#(step(1, gradients: huge))]}"#)
        #expect(failed.status.code == 422)
        let message = failed.error?.message ?? ""
        #expect(message.hasPrefix("steps[1]: ") && message.hasSuffix(" (steps[0] landed; the version is 1)"), "\(message)")
        #expect(sgd.gradserve.store.snapshot().version == 1)
    }
}
