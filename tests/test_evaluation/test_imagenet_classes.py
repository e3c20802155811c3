"""The ImageNet-A / -R index maps against the benchmarks' published lists.

The wnid lists of ``mmsiameseim/datasets/imagenet_classes.py`` were
written out from the class lists; the fixtures below are the *other*
published form of the same subsets, the ImageNet-1k indices the reference
evaluation code keeps (``output[:, mask]``):

* ImageNet-R: the index list in the comment under ``imagenet_r_mask`` in
  ``eval.py`` of https://github.com/hendrycks/imagenet-r;
* ImageNet-A: the keys of ``thousand_k_to_200`` in ``eval.py`` of
  https://github.com/hendrycks/natural-adv-examples whose value is not -1
  (the value of the n-th kept key is n).
"""
import pytest

from mmsiameseim.datasets import (IMAGENET_A_WNIDS, IMAGENET_R_WNIDS,
                                  IMAGENET_WNIDS, class_subset_indices,
                                  load_wnids)

IMAGENET_R_INDICES = [
    1, 2, 4, 6, 8, 9, 11, 13, 22, 23, 26, 29, 31, 39, 47, 63, 71, 76, 79, 84,
    90, 94, 96, 97, 99, 100, 105, 107, 113, 122, 125, 130, 132, 144, 145,
    147, 148, 150, 151, 155, 160, 161, 162, 163, 171, 172, 178, 187, 195,
    199, 203, 207, 208, 219, 231, 232, 234, 235, 242, 245, 247, 250, 251,
    254, 259, 260, 263, 265, 267, 269, 276, 277, 281, 288, 289, 291, 292,
    293, 296, 299, 301, 308, 309, 310, 311, 314, 315, 319, 323, 327, 330,
    334, 335, 337, 338, 340, 341, 344, 347, 353, 355, 361, 362, 365, 366,
    367, 368, 372, 388, 390, 393, 397, 401, 407, 413, 414, 425, 428, 430,
    435, 437, 441, 447, 448, 457, 462, 463, 469, 470, 471, 472, 476, 483,
    487, 515, 546, 555, 558, 570, 579, 583, 587, 593, 594, 596, 609, 613,
    617, 621, 629, 637, 657, 658, 701, 717, 724, 763, 768, 774, 776, 779,
    780, 787, 805, 812, 815, 820, 824, 833, 847, 852, 866, 875, 883, 889,
    895, 907, 928, 931, 932, 933, 934, 936, 937, 943, 945, 947, 948, 949,
    951, 953, 954, 957, 963, 965, 967, 980, 981, 983, 988
]

IMAGENET_A_INDICES = [
    6, 11, 13, 15, 17, 22, 23, 27, 30, 37, 39, 42, 47, 50, 57, 70, 71, 76,
    79, 89, 90, 94, 96, 97, 99, 105, 107, 108, 110, 113, 124, 125, 130, 132,
    143, 144, 150, 151, 207, 234, 235, 254, 277, 283, 287, 291, 295, 298,
    301, 306, 307, 308, 309, 310, 311, 313, 314, 315, 317, 319, 323, 324,
    326, 327, 330, 334, 335, 336, 347, 361, 363, 372, 378, 386, 397, 400,
    401, 402, 404, 407, 411, 416, 417, 420, 425, 428, 430, 437, 438, 445,
    456, 457, 461, 462, 470, 472, 483, 486, 488, 492, 496, 514, 516, 528,
    530, 539, 542, 543, 549, 552, 557, 561, 562, 569, 572, 573, 575, 579,
    589, 606, 607, 609, 614, 626, 627, 640, 641, 642, 643, 658, 668, 677,
    682, 684, 687, 701, 704, 719, 736, 746, 749, 752, 758, 763, 765, 768,
    773, 774, 776, 779, 780, 786, 792, 797, 802, 803, 804, 813, 815, 820,
    823, 831, 833, 835, 839, 845, 847, 850, 859, 862, 870, 879, 880, 888,
    890, 897, 900, 907, 913, 924, 932, 933, 934, 937, 943, 945, 947, 951,
    954, 956, 957, 959, 971, 972, 980, 981, 984, 986, 987, 988
]


def test_imagenet_wnids_are_the_sorted_1000_classes():
    assert len(IMAGENET_WNIDS) == len(set(IMAGENET_WNIDS)) == 1000
    assert list(IMAGENET_WNIDS) == sorted(IMAGENET_WNIDS)
    # the first and last ImageNet-1k classes (tench, toilet tissue)
    assert IMAGENET_WNIDS[0] == 'n01440764'
    assert IMAGENET_WNIDS[-1] == 'n15075141'


@pytest.mark.parametrize('name,wnids,published', [
    ('imagenet-r', IMAGENET_R_WNIDS, IMAGENET_R_INDICES),
    ('imagenet-a', IMAGENET_A_WNIDS, IMAGENET_A_INDICES),
])
def test_index_maps_match_the_published_indices(name, wnids, published):
    assert len(published) == len(set(published)) == 200
    assert len(wnids) == len(set(wnids)) == 200
    assert class_subset_indices(name) == published
    assert class_subset_indices(list(wnids)) == published
    # logit j of the kept ones is class j of the subset's ImageFolder order
    assert [IMAGENET_WNIDS[i] for i in published] == sorted(wnids)


def test_the_two_subsets_differ():
    shared = set(IMAGENET_A_WNIDS) & set(IMAGENET_R_WNIDS)
    assert 0 < len(shared) < 200


def test_load_wnids_checks_user_lists(tmp_path):
    good = tmp_path / 'classes.txt'
    good.write_text('# my subset\nn01443537\n\nn01440764  # tench\n')
    assert load_wnids(str(good)) == ('n01440764', 'n01443537')
    assert class_subset_indices(str(good)) == [0, 1]
    for text, message in (('n0144376\n', 'not a WordNet id'),
                          ('n01440764\nn01440764\n', 'appears twice'),
                          ('n99999999\n', 'not an ImageNet-1k class'),
                          ('# nothing\n', 'is empty')):
        bad = tmp_path / 'bad.txt'
        bad.write_text(text)
        with pytest.raises(ValueError, match=message) as info:
            load_wnids(str(bad))
        assert 'bad.txt' in str(info.value)
    with pytest.raises(FileNotFoundError, match='imagenet-x'):
        load_wnids('imagenet-x')
