import QuantCLI

QuantCtl.main()
