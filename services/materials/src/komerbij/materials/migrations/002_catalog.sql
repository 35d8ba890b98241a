-- The Kom erbij kit. Stock starts at zero: it enters through stock adjustments, so the audit trail explains all of it.
INSERT INTO skus (sku, position, name, description, unit, max_per_order, quota_per_municipality, low_stock_threshold,
                  is_bundle) VALUES
    ('POSTER-A3', 1, 'Poster A3', 'Poster ''Kom erbij'' op A3-formaat, om activiteiten aan te kondigen.',
     'stuk', 50, 100, 50, false),
    ('POSTER-A2', 2, 'Poster A2', 'Poster ''Kom erbij'' op A2-formaat, voor etalages en grote wanden.',
     'stuk', 25, 50, 25, false),
    ('VLOERSTICKER', 3, 'Vloersticker', 'Ronde vloersticker ''Kom erbij'' die de weg wijst naar de activiteit.',
     'stuk', 20, 40, 20, false),
    ('PLACEMAT', 4, 'Placemat', 'Papieren placemats ''Kom erbij'' voor eettafels en koffieochtenden.',
     'pak van 50', 10, 20, 10, false),
    ('ANSICHTKAART', 5, 'Ansichtkaart ''ik nodig je uit''', 'Ansichtkaarten om iemand persoonlijk uit te nodigen.',
     'pak van 25', 20, 40, 20, false),
    ('KIT-COMPLEET', 6, 'Kom erbij-pakket compleet',
     'Het complete pakket: 5 posters A3, 2 posters A2, 2 vloerstickers, 1 pak placemats en 2 pakken ansichtkaarten.',
     'pakket', 5, 10, 5, true);

INSERT INTO bundle_components (bundle, component, quantity) VALUES
    ('KIT-COMPLEET', 'POSTER-A3', 5),
    ('KIT-COMPLEET', 'POSTER-A2', 2),
    ('KIT-COMPLEET', 'VLOERSTICKER', 2),
    ('KIT-COMPLEET', 'PLACEMAT', 1),
    ('KIT-COMPLEET', 'ANSICHTKAART', 2);
