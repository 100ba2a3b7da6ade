import QuantBench

QuantBenchCommand.main()
