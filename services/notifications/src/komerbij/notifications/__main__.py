from komerbij.notifications.app import main

main()
