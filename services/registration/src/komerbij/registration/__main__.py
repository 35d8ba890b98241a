from komerbij.registration.app import main

main()
