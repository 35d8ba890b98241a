from komerbij.materials.app import main

main()
