"""Fashion-MNIST scenes: a seeded dense benchmark built from real images,
as arrays (:mod:`.generate`), PNG files to look at (:mod:`.files`), an
mmpretrain dataset generated in memory (:mod:`.dataset`), an mmseg folder
(:mod:`.mmseg`, dataset in :mod:`.mmseg_dataset`) and COCO instances
(:mod:`.coco`)."""
