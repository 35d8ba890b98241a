from komerbij.media.app import main

main()
