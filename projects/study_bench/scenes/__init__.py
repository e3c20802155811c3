"""Fashion-MNIST scenes: a seeded dense benchmark built from real images,
as arrays (:mod:`.generate`), an mmseg folder (:mod:`.mmseg`, dataset in
:mod:`.mmseg_dataset`) and COCO instances (:mod:`.coco`)."""
