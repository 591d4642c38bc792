import FuzzTargets

@main
enum FuzzHTTP {
    static func main() { FuzzDriver.main(FuzzTargets.httpHead) }
}
