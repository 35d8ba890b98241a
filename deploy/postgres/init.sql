-- One database per service (docker compose; `make run` creates the same ones itself).
CREATE DATABASE komerbij_registration;
CREATE DATABASE komerbij_materials;
CREATE DATABASE komerbij_media;
CREATE DATABASE komerbij_notifications;
CREATE DATABASE komerbij_dashboard;
