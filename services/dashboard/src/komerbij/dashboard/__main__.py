from komerbij.dashboard.app import main

main()
