import FuzzTargets

@main
enum FuzzJSON {
    static func main() { FuzzDriver.main(FuzzTargets.jsonRequest) }
}
