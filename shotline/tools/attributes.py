"""Visual attributes read from free text (English, Chinese, French) by lexicon.

Deterministic, offline and fast: continuity runs this on every shot before any money is spent, and
the screenwriter runs it on every introduction, so it must give the same answer every time with no
model and no network. It reads what a costume or make-up department would track: age, hair, eyes,
one slot per garment family, marks (scar, tattoo...), build and carried props (`prop:<name>`).

`extract_attributes` keeps each value as written ("red bomber jacket"); `value_facets` reduces a value
to comparable facets (colour family, length, age decade, side...), so that "crimson jacket" and
"红色夹克" compare equal to "red jacket" while "blue jacket" does not.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "COLOR_FAMILIES",
    "SLOTS",
    "color_hex",
    "differing_facets",
    "display_color",
    "extract_attributes",
    "is_slot",
    "value_facets",
]

COLOR_FAMILIES = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink",
    "brown", "black", "white", "grey", "silver", "gold",
)  # fmt: skip

_HEX = {
    "red": "#c0392b",
    "orange": "#e67e22",
    "yellow": "#f1c40f",
    "green": "#2e8b57",
    "blue": "#2f6fd1",
    "purple": "#8e44ad",
    "pink": "#e46fa5",
    "brown": "#8b5a2b",
    "black": "#2b2b2e",
    "white": "#ececec",
    "grey": "#8a8f98",
    "silver": "#c0c6cc",
    "gold": "#d4a017",
}
# Pleasant, distinguishable on a dark or light backdrop; used when a character has no coloured garment.
_PALETTE = (
    "#e07a5f", "#3d85c6", "#81b29a", "#f2cc8f", "#9b72cf",
    "#e56b9f", "#4fb3bf", "#c8963e", "#6a9f3d", "#d1495b",
)  # fmt: skip

# Where the eye goes first: the colour a character is drawn in comes from the first of these.
_VISIBLE_SLOTS = ("jacket", "dress", "suit", "uniform", "shirt", "skirt", "trousers", "hat", "scarf")


# --- lexicons ----------------------------------------------------------------------------
# Latin-script entries are written without accents, lower case; text is folded the same way.


def _w(text: str) -> list[str]:
    """A lexicon row written as 'word, two words, ...' (compact, and diff-friendly)."""
    return [w.strip() for w in text.split(",") if w.strip()]


def _forms(*bases: str) -> list[str]:
    """French adjectives agree in gender and number: 'noir' -> noir, noire, noirs, noires."""
    out: list[str] = []
    for b in bases:
        out += [b, b + "s"] if b.endswith("e") else _pp(b)
    return out


def _pp(*bases: str) -> list[str]:
    """Participles agree too, and fold to a final 'e': 'doré' -> dore, doree, dores, dorees."""
    return [b + end for b in bases for end in ("", "e", "s", "es")]


_COLOR_LATIN: dict[str, list[str]] = {
    "red": _w(
        "red, reddish, crimson, scarlet, cherry, burgundy, maroon, ruby, wine, claret, vermilion, vermillion,"
        "carmine, oxblood, blood-red, auburn, ginger, rouge, rouges, bordeaux, ecarlate, ecarlates, grenat,"
        "carmin, vermillon, roux, rousse, rousses"
    )
    + _forms("cramoisi"),
    "orange": _w(
        "orange, oranges, orangey, tangerine, amber, apricot, rust, copper, coppery, peach, abricot, rouille"
    )
    + _pp("cuivre"),
    "yellow": _w("yellow, yellowish, mustard, lemon, canary, jaune, jaunes, moutarde, citron"),
    "green": _w("green, greenish, emerald, olive, jade, lime, sage, mint, emeraude, kaki") + _forms("vert"),
    "blue": _w(
        "blue, bluish, navy, azure, cobalt, sapphire, indigo, cerulean, cyan, teal, turquoise, aqua,"
        "cornflower, marine, azur, saphir"
    )
    + _forms("bleu"),
    "purple": _w(
        "purple, violet, lavender, lilac, plum, mauve, amethyst, aubergine, eggplant, pourpre, pourpres,"
        "violette, violettes, violets, lilas, prune, parme"
    ),
    "pink": _w("pink, pinkish, rose, rosy, fuchsia, magenta, salmon, coral, hot-pink, roses, saumon, corail")
    + _pp("rose"),
    "brown": _w(
        "brown, brownish, chestnut, chocolate, coffee, mocha, tan, beige, beiges, camel, caramel, khaki,"
        "hazel, sepia, brunette, umber, taupe, marron, marrons, chatain, chatains, chataigne, chocolat,"
        "noisette, fauve"
    )
    + _forms("brun"),
    "black": _w("black, blackish, jet, jet-black, ebony, raven, onyx, inky, pitch-black, ebene")
    + _forms("noir"),
    "white": _w(
        "white, whitish, ivory, cream, snow-white, pearl, off-white, alabaster, milky, blanc, blanche,"
        "blancs, blanches, ivoire, creme, ecru"
    ),
    "grey": _w(
        "grey, gray, greyish, grayish, greying, graying, charcoal, slate, ash, ashen, graphite, pewter,"
        "salt-and-pepper, anthracite, ardoise"
    )
    + _forms("gris")
    + _pp("cendre"),
    "silver": _w("silver, silvery, silvered, platinum, argent, platine") + _pp("argente"),
    "gold": _w("gold, golden, gilded, gilt, blond, blonde, blondes, blonds, flaxen") + _pp("dore"),
}
_COLOR_ZH: dict[str, list[str]] = {
    "red": _w("深红, 暗红, 绯红, 酒红, 枣红, 大红, 朱红, 鲜红, 血红, 猩红, 殷红, 火红, 赤红, 红, 赤, 朱"),
    "pink": _w("粉红, 桃红, 玫红, 玫瑰红, 粉, 桃色"),
    "orange": _w("橘红, 橘黄, 橙, 橘, 杏色"),
    "yellow": _w("鹅黄, 明黄, 土黄, 黄"),
    "gold": _w("金黄, 金"),
    "green": _w("翠绿, 墨绿, 军绿, 碧绿, 草绿, 橄榄绿, 绿, 翠, 碧"),
    "blue": _w("藏青, 藏蓝, 靛蓝, 天蓝, 湛蓝, 宝蓝, 深蓝, 海军蓝, 蔚蓝, 蓝, 靛"),
    "purple": _w("紫罗兰, 淡紫, 紫"),
    "brown": _w("棕褐, 咖啡, 栗色, 驼色, 卡其, 米色, 茶色, 棕, 褐"),
    "black": _w("乌黑, 漆黑, 墨黑, 黑, 乌"),
    "white": _w("雪白, 米白, 乳白, 洁白, 白"),
    "grey": _w("银灰, 铁灰, 深灰, 灰"),
    "silver": _w("银白, 银"),
}

_LENGTH_LATIN: dict[str, list[str]] = {
    "bald": _w("bald, balding") + _forms("chauve"),
    "short": _w("short, cropped, close-cropped, buzzed, pixie, ras") + _forms("court") + _pp("rase"),
    "medium": _w(
        "shoulder-length, chin-length, medium-length, mid-length, bob, bobbed, mi-longue, mi-longues"
    )
    + _forms("mi-long"),
    "long": _w("long, waist-length, hip-length, longs, longue, longues"),
}
_LENGTH_ZH: dict[str, list[str]] = {
    "bald": _w("光头, 秃"),
    "short": _w("寸头, 平头, 短"),
    "medium": _w("齐肩, 披肩"),
    "long": _w("长"),
}
_LENGTH_RANK = {"bald": 0, "short": 1, "medium": 2, "long": 3}

# slot -> (Latin heads, without accents, words split by spaces; Chinese heads)
_HEADS: dict[str, tuple[list[str], list[str]]] = {
    "hair": (
        _w(
            "hair, ponytail, pigtails, braid, braids, plait, plaits, bun, curls, dreadlocks, dreads, mohawk,"
            "afro, buzz cut, crew cut, crewcut, buzzcut, pixie cut, cornrows, bald, shaved head, cheveux,"
            "chevelure, queue de cheval, tresse, tresses, chignon, chauve, crane rase"
        ),
        _w(
            "齐肩发, 披肩发, 头发, 短发, 长发, 卷发, 直发, 白发, 黑发, 金发, 银发, 红发, 棕发, 灰发, 乌发,"
            "秀发, 马尾辫, 马尾, 辫子, 光头, 寸头, 平头, 盘发"
        ),
    ),
    "beard": (_w("beard, moustache, mustache, goatee, stubble, barbe, bouc"), _w("络腮胡, 胡子, 胡须, 胡茬")),
    "eyes": (_w("eyes, yeux"), _w("眼睛, 眼眸, 眸子, 双眸, 双眼, 瞳孔, 眼珠")),
    "jacket": (
        _w(
            "jacket, coat, overcoat, trench coat, trenchcoat, raincoat, blazer, parka, windbreaker, anorak,"
            "cloak, cape, poncho, peacoat, duster, puffer, veste, blouson, manteau, impermeable, trench,"
            "doudoune, caban, pardessus, veston"
        ),
        _w("皮夹克, 夹克, 外套, 大衣, 风衣, 皮衣, 羽绒服, 斗篷, 披风, 雨衣, 棉袄"),
    ),
    "dress": (
        _w("dress, gown, sundress, frock, kimono, qipao, cheongsam, robe"),
        _w("连衣裙, 长裙, 裙子, 旗袍, 礼服, 裙"),
    ),
    "skirt": (_w("skirt, miniskirt, jupe"), _w("短裙, 半身裙, 百褶裙")),
    "shirt": (
        _w(
            "shirt, t-shirt, tee, tee-shirt, blouse, tank top, crop top, sweater, jumper, hoodie, sweatshirt,"
            "cardigan, turtleneck, polo, tunic, chemise, chemisier, pull-over, sweat-shirt, gilet, tunique,"
            "debardeur"
        ),
        _w("高领毛衣, 衬衫, 衬衣, T恤, t恤, 上衣, 毛衣, 卫衣, 背心, 开衫"),
    ),
    "trousers": (
        _w(
            "trousers, pants, jeans, slacks, shorts, leggings, chinos, overalls, joggers, pantalon, salopette"
        ),
        _w("牛仔裤, 长裤, 短裤, 西裤, 裤子, 裤"),
    ),
    "shoes": (
        _w(
            "shoes, boots, sneakers, trainers, heels, high heels, sandals, loafers, slippers, chaussures,"
            "bottes, bottines, baskets, talons, escarpins, sandales, mocassins"
        ),
        _w("运动鞋, 高跟鞋, 皮鞋, 凉鞋, 球鞋, 靴子, 鞋子, 靴, 鞋"),
    ),
    "hat": (
        _w("hat, cap, beanie, beret, fedora, helmet, bowler, chapeau, casquette, bonnet, casque"),
        _w("棒球帽, 鸭舌帽, 贝雷帽, 草帽, 帽子, 头盔, 帽"),
    ),
    "scarf": (
        _w("scarf, scarves, shawl, bandana, headscarf, muffler, echarpe, foulard, chale"),
        _w("围巾, 丝巾, 头巾, 披肩"),
    ),
    "glasses": (_w("glasses, spectacles, sunglasses, goggles, monocle, lunettes"), _w("眼镜, 墨镜, 太阳镜")),
    "gloves": (_w("gloves, mittens, gants"), _w("手套")),
    "suit": (_w("suit, tuxedo, costume"), _w("西装, 西服")),
    "uniform": (_w("uniform, uniforme"), _w("制服, 校服, 军装")),
    "mask": (_w("mask, masque"), _w("面具, 口罩")),
    "necklace": (_w("necklace, pendant, collier, pendentif"), _w("项链")),
    "earrings": (_w("earrings, boucles d' oreilles"), _w("耳环")),
    "belt": (_w("belt, ceinture"), _w("腰带, 皮带")),
    "marks": (
        _w(
            "scar, scars, tattoo, tattoos, birthmark, freckles, mole, cicatrice, tatouage,"
            "tache de naissance, taches de rousseur, grain de beaute"
        ),
        _w("伤疤, 刀疤, 疤痕, 疤, 纹身, 刺青, 胎记, 雀斑, 痣"),
    ),
    "prop:umbrella": (_w("umbrella, parasol, parapluie"), _w("雨伞, 伞")),
    "prop:locket": (_w("locket, medaillon"), _w("挂坠盒, 吊坠")),
    "prop:sword": (_w("sword, katana, sabre, saber, epee"), _w("宝剑, 长剑, 剑")),
    "prop:knife": (_w("knife, dagger, couteau, poignard"), _w("匕首, 刀")),
    "prop:gun": (_w("gun, pistol, revolver, rifle, shotgun, pistolet, fusil"), _w("手枪, 步枪, 枪")),
    "prop:phone": (_w("phone, smartphone, cellphone, telephone"), _w("手机")),
    "prop:camera": (_w("camera, appareil photo"), _w("照相机, 相机")),
    "prop:guitar": (_w("guitar, guitare"), _w("吉他")),
    "prop:lantern": (_w("lantern, lanterne"), _w("灯笼")),
    "prop:flashlight": (_w("flashlight, torch, lampe de poche"), _w("手电筒")),
    "prop:cane": (_w("cane, walking stick, canne"), _w("拐杖")),
    "prop:briefcase": (_w("briefcase, mallette"), _w("公文包")),
    "prop:suitcase": (_w("suitcase, valise"), _w("行李箱, 手提箱")),
    "prop:backpack": (_w("backpack, rucksack, sac a dos"), _w("双肩包, 背包, 书包")),
    "prop:bag": (_w("bag, handbag, purse, sac, sac a main"), _w("手提包, 挎包")),
    "prop:bouquet": (_w("bouquet"), _w("花束")),
    "prop:cigarette": (_w("cigarette"), _w("香烟")),
    "prop:letter": (_w("letter, envelope, lettre, enveloppe"), _w("信封")),
    "prop:key": (_w("key, keys, cle, clef, cles"), _w("钥匙")),
    "prop:map": (_w("map"), _w("地图")),
    "prop:book": (_w("book, notebook, livre, carnet"), _w("笔记本")),
}
# French heads take their colour and length after the noun ('veste rouge'); English ones before.
_FRENCH_HEADS = set(
    _w(
        "barbe, bouc, cheveux, chevelure, queue de cheval, tresse, tresses, chignon, crane rase, yeux,"
        "veste, blouson, manteau, impermeable, trench, doudoune, caban, pardessus, veston, robe, jupe,"
        "chemise, chemisier, pull-over, sweat-shirt, gilet, tunique, debardeur, pantalon, salopette,"
        "chaussures, bottes, bottines, baskets, talons, escarpins, sandales, mocassins, chapeau,"
        "casquette, bonnet, casque, echarpe, foulard, chale, lunettes, gants, costume, uniforme, masque,"
        "collier, pendentif, boucles d' oreilles, ceinture, cicatrice, tatouage, tache de naissance,"
        "taches de rousseur, grain de beaute, parapluie, medaillon, epee, couteau, poignard, pistolet,"
        "fusil, telephone, appareil photo, guitare, lanterne, lampe de poche, canne, mallette, valise,"
        "sac a dos, sac, sac a main, lettre, enveloppe, cle, clef, cles, livre, carnet"
    )
)

_MARK_KINDS: dict[str, list[str]] = {
    "scar": _w("scar, scars, cicatrice, 伤疤, 刀疤, 疤痕, 疤"),
    "tattoo": _w("tattoo, tattoos, tatouage, 纹身, 刺青"),
    "birthmark": _w("birthmark, tache de naissance, 胎记"),
    "freckles": _w("freckles, taches de rousseur, 雀斑"),
    "mole": _w("mole, grain de beaute, 痣"),
}
_SIDES: dict[str, list[str]] = {
    "left": _w("left, 左") + _forms("gauche"),
    "right": _w("right, 右") + _forms("droit"),
}
_PLACES: dict[str, list[str]] = {
    "eye": _w("eyebrow, brow, eye, sourcil, oeil, 眉, 眼"),
    "cheek": _w("cheek, cheekbone, joue, pommette, 脸颊, 面颊, 颊"),
    "jaw": _w("chin, jaw, jawline, menton, machoire, 下巴"),
    "forehead": _w("forehead, temple, front, tempe, 额"),
    "mouth": _w("lip, lips, mouth, levre, levres, bouche, 嘴"),
    "nose": _w("nose, nez, 鼻"),
    "ear": _w("ear, oreille, 耳"),
    "neck": _w("neck, throat, cou, gorge, 脖子, 颈"),
    "arm": _w("arm, forearm, bicep, elbow, bras, avant-bras, coude, 手臂, 臂, 胳膊"),
    "hand": _w("wrist, hand, palm, knuckles, finger, fingers, poignet, main, doigt, 手"),
    "shoulder": _w("shoulder, epaule, 肩"),
    "back": _w("back, dos, 背"),
    "chest": _w("chest, poitrine, torse, 胸"),
    "leg": _w("leg, thigh, knee, ankle, calf, jambe, cuisse, genou, cheville, 腿, 膝"),
}
_BUILD: dict[str, list[str]] = {
    "thin": _w(
        "slim, slender, skinny, lanky, wiry, gaunt, frail, willowy, scrawny, bony, mince, minces, svelte,"
        "maigre, frele, fluet, fluette, 瘦, 苗条, 纤细, 娇小"
    )
    + _pp("elance"),
    "heavy": _w(
        "stocky, heavyset, burly, plump, chubby, stout, portly, overweight, hulking, rotund, barrel-chested,"
        "costaud, costaude, 胖, 魁梧, 壮硕, 粗壮, 敦实"
    )
    + _forms("trapu", "corpulent")
    + _pp("enrobe"),
    "muscular": _w(
        "muscular, athletic, brawny, broad-shouldered, toned, strapping, athletique, 健壮, 强壮, 结实"
    )
    + _pp("muscle", "baraque"),
}
_WEATHER: dict[str, list[str]] = {
    "rain": _w(
        "rain, rainy, raining, rain-soaked, rain-slicked, drizzle, downpour, storm, stormy, thunderstorm,"
        "pluie, pluvieux, pleut, averse, orage, 下雨, 雨"
    ),
    "snow": _w("snow, snowy, snowing, snowfall, blizzard, neige, neigeux, neigeuse, 雪"),
    "fog": _w("fog, foggy, mist, misty, haze, brouillard, brume, 雾"),
    "sun": _w("sunny, sunlit, sunshine, sunlight, sun-drenched, cloudless, soleil, 阳光, 晴, 烈日")
    + _pp("ensoleille"),
}

# Equal families for comparison: "grey" and "silver" hair, "gold" and "yellow" anything.
_COLOR_SAME = ({"grey", "silver"}, {"gold", "yellow"})
_HAIR_COLOR_SAME = ({"grey", "silver", "white"}, {"red", "orange"}, {"gold", "yellow"})

# Every slot `extract_attributes` can return, besides 'prop:<name>' and 'marks:<kind>'.
SLOTS = frozenset(["age", "build", "weather", *(slot for slot in _HEADS if not slot.startswith("prop:"))])


def is_slot(name: str) -> bool:
    """True for a slot this module reads ('jacket', 'marks:tattoo', 'prop:umbrella'); False for 'clothing'."""
    return name.startswith("prop:") or name.split(":", 1)[0] in SLOTS


# --- Latin-script tokenising ------------------------------------------------------------

_LETTER = r"A-Za-zÀ-ÖØ-öø-ÿŒœÆæ"
_TOKEN = re.compile(
    rf"(?:[lLdDjJnNsScCmMtT]|[qQ]u)['’](?=[{_LETTER}])"  # French elision: l'écharpe -> l' + écharpe
    rf"|[{_LETTER}](?:[{_LETTER}'’-]*[{_LETTER}])?"  # words, with inner hyphens and apostrophes
    rf"|\d+(?:['’]?[{_LETTER}]+)?|\S"  # numbers ('90s'), then any other single character
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def _fold(word: str) -> str:
    """Lower case, no accents, straight apostrophes: how every Latin lexicon entry is written."""
    text = unicodedata.normalize("NFKD", word.replace("’", "'").lower())
    return "".join(c for c in text if not unicodedata.combining(c))


@dataclass(frozen=True)
class _Tok:
    text: str
    key: str
    start: int
    end: int

    @property
    def is_word(self) -> bool:
        return self.key[:1].isalpha() and not _CJK.match(self.key)


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.group(), _fold(m.group()), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _invert(table: dict[str, list[str]]) -> dict[str, str]:
    return {word: key for key, words in table.items() for word in words}


_COLOR_WORD = _invert(_COLOR_LATIN)
_PLACE_WORDS = set(_invert(_PLACES))
_SIDE_WORDS = set(_invert(_SIDES))
_LENGTH_WORD = _invert(_LENGTH_LATIN)
_HEAD_LATIN: dict[tuple[str, ...], str] = {
    tuple(h.split()): slot for slot, (latin, _) in _HEADS.items() for h in latin
}
_HEAD_MAX = max(len(k) for k in _HEAD_LATIN)
_HEAD_ZH = sorted(((h, slot) for slot, (_, zh) in _HEADS.items() for h in zh), key=lambda p: -len(p[0]))
_FRENCH_HEAD_KEYS = {tuple(h.split()) for h in _FRENCH_HEADS}

_STOP_EN = set(
    _w(
        "a, an, the, this, that, these, those, her, his, their, its, my, your, our, him, them, she, he,"
        "they, it, i, you, we, in, into, on, onto, at, to, from, by, for, of, off, out, up, down, over,"
        "under, beneath, behind, with, without, within, and, or, but, nor, so, than, then, as, like,"
        "while, when, where, who, whom, which, whose, what, is, are, was, were, be, been, being, am, has,"
        "have, had, do, does, did, will, would, can, could, should, may, might, must, wears, wearing,"
        "wore, worn, wear, dressed, sporting, carries, carrying, carried, holds, holding, held, clutches,"
        "clutching, grips, gripping, puts, put, pulls, pulled, pulling, takes, took, taking, removes,"
        "removed, adjusts, zips, buttons, tugs, straightens, drops, opens, raises, lifts, grabs, shows,"
        "reveals, tucks, throws, hangs, hides, hugs, through, across, along, around, about, after,"
        "before, between, against, toward, towards, still, now, just, only, also, too, very, all, some,"
        "any, no, not, each, every, both, either, neither, one, two, three, four, five, six, seven,"
        "eight, nine, ten"
    )
)
_STOP_FR = set(
    _w(
        "le, la, les, un, une, des, du, de, d', l', au, aux, et, ou, mais, avec, sans, sous, sur, dans, par,"
        "pour, qui, que, il, elle, ils, elles, son, sa, ses, leur, leurs, ce, cet, cette, ces, porte,"
        "portant, portait, tient, tenant"
    )
)
_FR_BEFORE = set(
    _forms("petit", "grand", "gros", "joli")
    + _w("long, longs, longue, longues, vieux, vieille, vieilles, vieil, beau, belle, bel, nouveau, nouvelle")
)
_FR_AFTER = set(
    _forms(*_w("clair, sombre, pale, ample, moulant, ancien, sale, raide, lisse, epais, fin, vif"))
    + _pp("fonce", "delave", "use", "elime", "trempe", "dechire", "brode", "raye", "froisse", "tache", "neuf")
    + _pp("mouille", "boucle", "frise", "ondule", "tresse", "lache", "attache")
    + _w("vive, vives, neuve, neuves, epaisse, epaisses, fine, fines, cuir, laine, soie, coton, velours, lin")
    + _w("fourrure, denim, satin, tweed, capuche, carreaux, rayures, fleurs, pois, col, boutons")
)
_FR_LINK = {"en", "de", "d'", "a"}  # 'en cuir', 'de laine', 'a capuche'
_COPULA_EN = {"is", "are", "was", "were", "looks", "look", "seems", "turns", "turned", "now", "still"}
_COPULA_FR = {"est", "sont", "etait", "etaient", "semble", "semblent"}
_PRED_OK = {"now", "still", "all", "completely", "entirely", "bright", "dark", "deep", "pale", "light"}
_PRED_OK |= {"and", "et", "tres", "tout", "toute", "maintenant"}
_MARK_START = {
    "over", "above", "on", "across", "along", "under", "below", "beneath", "near", "down", "through",
    "at", "in", "from", "running", "sur", "sous", "au", "au-dessus", "au-dessous", "a", "pres", "le",
    "en", "dans", "de", "du",
}  # fmt: skip
_MARK_STOP = {"and", "with", "as", "while", "who", "which", "that", "but", "et", "avec", "qui", "mais"}
# Words between a mark and where it is: 'the scar now runs down her cheek', 'a tattoo that covers his arm'.
_MARK_VERB = set(
    _w(
        "now, still, that, which, is, was, runs, ran, running, stretches, stretching, snakes, snaking, winds,"
        "curls, curling, cuts, cutting, crosses, crossing, covers, covering, splits, marks, sits, visible,"
        "traverse, barre, court, descend"
    )
)
_MARK_OWNER = set(_w("her, his, their, the, a, one, sa, son, la, le"))  # 'crosses | her left cheek'


# --- Latin extraction ------------------------------------------------------------------


def _head_at(toks: list[_Tok], i: int) -> tuple[str, int] | None:
    """The slot and token count of the longest head starting at token i."""
    for n in range(min(_HEAD_MAX, len(toks) - i), 0, -1):
        key = tuple(t.key for t in toks[i : i + n])
        if key in _HEAD_LATIN:
            return _HEAD_LATIN[key], n
    key = toks[i].key
    if key.endswith("-haired"):
        return "hair", 1
    if key.endswith("-eyed"):
        return "eyes", 1
    return None


def _is_modifier(tok: _Tok, shouting: bool) -> bool:
    """Could this word sit before the noun as part of its description? (French determiners stop it.)"""
    key = tok.key
    if re.fullmatch(r"\d+0'?s", key):
        return True  # an era: 'a 90s windbreaker'
    if not tok.is_word or key in _STOP_EN or key in _STOP_FR:
        return False
    if key.endswith(("'s", "s'")):
        return False  # a possessive owner, not a description
    if not shouting and tok.text[:1].isupper() and key not in _COLOR_WORD:
        return False  # a name
    known = key in _COLOR_WORD or key in _LENGTH_WORD or key in _FR_BEFORE
    return known or not (key.endswith("s") and not key.endswith(("ss", "us")) and len(key) > 3)


def _extend_back(toks: list[_Tok], i: int, shouting: bool) -> int:
    j = i
    while j > 0 and i - j < 4 and _is_modifier(toks[j - 1], shouting):
        j -= 1
    return j


def _is_after_fr(key: str) -> bool:
    return key in _COLOR_WORD or key in _LENGTH_WORD or key in _FR_AFTER


def _extend_forward_fr(toks: list[_Tok], k: int) -> int:
    """French puts colour and length after the noun: 'cheveux courts noirs', 'veste en cuir rouge'."""
    end = k
    while end < len(toks) and end - k < 5:
        key = toks[end].key
        if _is_after_fr(key):
            end += 1
        elif key in _FR_LINK and end + 1 < len(toks) and _is_after_fr(toks[end + 1].key):
            end += 2
        else:
            break
    return end


def _extend_predicate(toks: list[_Tok], k: int, copulas: set[str]) -> int:
    """'her hair is long and silver': a copula then only colour/length words."""
    if k >= len(toks) or toks[k].key not in copulas:
        return k
    end, last = k + 1, k
    while end < len(toks) and end - k < 6:
        key = toks[end].key
        if key in _COLOR_WORD or key in _LENGTH_WORD:
            last = end + 1
        elif key not in _PRED_OK and key not in copulas:
            break
        end += 1
    return last if last > k else k


def _extend_mark(toks: list[_Tok], k: int) -> int:
    """'scar over her left eyebrow': a mark carries where it is."""
    lead = k
    while lead < len(toks) and lead - k < 3 and toks[lead].key in _MARK_VERB:
        lead += 1
    if lead >= len(toks) or toks[lead].key not in (_MARK_START if lead == k else _MARK_START | _MARK_OWNER):
        return k
    end = lead
    while end < len(toks) and end - lead < 6 and toks[end].is_word and toks[end].key not in _MARK_STOP:
        end += 1
        if toks[end - 1].key in _PLACE_WORDS:  # the body part ends it: 'over her left eyebrow | catches'
            return end + 1 if end < len(toks) and toks[end].key in _SIDE_WORDS else end  # 'sourcil gauche'
    return end


def _latin_spans(text: str) -> Iterable[tuple[int, str, str]]:
    toks = _tokens(text)
    letters = [c for c in text if c.isalpha() and not _CJK.match(c)]
    shouting = bool(letters) and all(c.isupper() for c in letters)
    i = 0
    while i < len(toks):
        found = _head_at(toks, i)
        if found is None:
            i += 1
            continue
        slot, n = found
        k = i + n
        if k < len(toks) and _head_at(toks, k) and slot != "marks":
            i = k  # 'dress shoes', 'rain boots': the first noun describes the second
            continue
        french = tuple(t.key for t in toks[i:k]) in _FRENCH_HEAD_KEYS
        start = _extend_back(toks, i, shouting)
        end = _extend_forward_fr(toks, k) if french else k
        end = _extend_predicate(toks, end, _COPULA_FR if french else _COPULA_EN)
        if slot == "marks":
            end = _extend_mark(toks, end)
        yield toks[start].start, slot, text[toks[start].start : toks[end - 1].end]
        i = k


# --- Chinese extraction ----------------------------------------------------------------

_ZH_CLAUSE = re.compile(r"[^，。、；：！？,.;:!?\s（）()“”\"「」《》]+")
_ZH_MARKER = re.compile(
    r"身穿|穿着|穿上|穿|戴着|戴上|戴|披着|披|留着|留|系着|系|裹着|套着|拿着|拿|握着|握|提着|提|"
    r"背着|撑着|撑|抱着|带着|带|手持|有|和|与|及|跟|配|还有|是"
)
_ZH_LEAD = re.compile(
    r"^(?:[她他它]的|[她他它]|一[件条顶双副把只个道块头身张枚支]|[件条顶双副把只个道块头身张枚支])+"
)
_ZH_PRED = re.compile(r"^(?:已经|现在|也|都|全)?(?:是|变成了?|染成了?|成了)")


def _zh_heads(clause: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, slot) heads in a clause, longest first at each position."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(clause):
        hit = next(((h, s) for h, s in _HEAD_ZH if clause.startswith(h, i)), None)
        if hit is None:
            i += 1
            continue
        out.append((i, i + len(hit[0]), hit[1]))
        i += len(hit[0])
    return out


def _zh_value(clause: str, start: int, head_start: int, head_end: int, slot: str) -> tuple[int, str]:
    if slot == "marks":
        lead = _ZH_LEAD.match(clause) if start == 0 else None
        s = lead.end() if lead else start
        return s, clause[s:]
    markers = [m.end() for m in _ZH_MARKER.finditer(clause, start, head_start)]
    s = max([start, *markers])
    owner = clause.rfind("的", s, head_start)
    if owner >= 0 and _color_hits(clause[owner + 1 : head_start]):
        s = owner + 1  # '拉紧身上的白色夹克' -> '白色夹克'; '乌黑的短发' keeps its colour
    lead = _ZH_LEAD.match(clause[s:head_start])
    s += lead.end() if lead else 0
    end = head_end
    if _ZH_PRED.match(clause[head_end:]):
        end = len(clause)
    return s, clause[s:end]


def _zh_spans(text: str) -> Iterable[tuple[int, str, str]]:
    for m in _ZH_CLAUSE.finditer(text):
        clause = m.group()
        if not _CJK.search(clause):
            continue
        prev = 0
        for head_start, head_end, slot in _zh_heads(clause):
            s, value = _zh_value(clause, prev, head_start, head_end, slot)
            if value:
                yield m.start() + s, slot, value
            prev = head_end


# --- age, build, weather ----------------------------------------------------------------

_TENS_EN = {
    "teen": 10, "teens": 10, "teenage": 10, "teenager": 10, "twenties": 20, "twenty": 20,
    "thirties": 30, "thirty": 30, "forties": 40, "forty": 40, "fifties": 50, "fifty": 50,
    "sixties": 60, "sixty": 60, "seventies": 70, "seventy": 70, "eighties": 80, "eighty": 80,
    "nineties": 90, "ninety": 90,
}  # fmt: skip
_TENS_FR = {
    "adolescent": 10, "adolescente": 10, "vingtaine": 20, "trentaine": 30, "quarantaine": 40,
    "cinquantaine": 50, "soixantaine": 60, "septantaine": 70, "soixante-dizaine": 70,
}  # fmt: skip
_ZH_DIGIT = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_NUM = r"(?:[一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九]|\d{1,2})"
_DECADE_WORDS = r"(?:teens|twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)"
_TENS_WORDS = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
_UNITS = r"(?:one|two|three|four|five|six|seven|eight|nine)"
# Each pattern's group 'v' is the age as written. A bare '90s' is an era ('a 90s windbreaker'), not an
# age: decades in digits count only in parentheses, after 'in her', or with early/mid/late.
_AGE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\((?P<v>(?:early |mid-?|late )?\d0'?s)\)",
        r"\b(?:in|into) (?:her|his|their|my|your) (?P<v>\d0'?s)\b",
        r"(?<![\w-])(?P<v>(?:early|mid|late)[- ]?\d0'?s)\b",
        rf"(?<![\w-])(?P<v>(?:(?:early|mid|late)[- ]?)?{_DECADE_WORDS})\b",
        rf"\b(?P<v>{_TENS_WORDS}(?:-{_UNITS})?[- ](?:something|years?[- ]old))\b",
        r"\b(?P<v>\d{1,2}[- ]years?[- ]old|aged \d{1,2}|teen(?:age|ager)?)\b",
        r"\((?P<v>\d{1,2})\)",
        r"(?P<v>\b(?:la |une )?(?:vingtaine|trentaine|quarantaine|cinquantaine|soixantaine|septantaine)\b)",
        r"\b(?P<v>\d{1,2} ans|adolescente?)\b",
        rf"(?P<v>{_ZH_NUM}(?:多|来|几)?周?岁|[二两三四五六七八九]十(?:出头|开外))",
    )
]


def _zh_number(text: str) -> int | None:
    m = re.search(r"\d{1,2}", text)
    if m:
        return int(m.group())
    m = re.search(r"([一二两三四五六七八九]?)十([一二三四五六七八九]?)", text)
    if m:
        return _ZH_DIGIT.get(m.group(1), 1) * 10 + _ZH_DIGIT.get(m.group(2), 0)
    m = re.search("[一二两三四五六七八九]", text)
    return _ZH_DIGIT[m.group()] if m else None


def age_decade(value: str) -> int | None:
    """'20s', 'mid-twenties', '25', '二十多岁', 'la vingtaine' -> 20."""
    folded = _fold(value)
    for word, tens in (_TENS_EN | _TENS_FR).items():
        if re.search(rf"\b{re.escape(word)}\b", folded):
            return tens
    n = _zh_number(value)
    return None if n is None else n // 10 * 10


def _word_table_spans(text: str, table: dict[str, list[str]]) -> Iterable[tuple[int, str]]:
    """(position, word as written) for every lexicon word in text; Latin by token, Chinese by substring."""
    latin = {w for words in table.values() for w in words if not _CJK.match(w)}
    for tok in _tokens(text):
        if tok.key in latin:
            yield tok.start, tok.text
    for word in sorted((w for ws in table.values() for w in ws if _CJK.match(w)), key=len, reverse=True):
        for m in re.finditer(re.escape(word), text):
            yield m.start(), word


def _first(spans: Iterable[tuple[int, str]]) -> tuple[int, str] | None:
    return min(spans, default=None)


def _simple_spans(text: str, weather: bool) -> Iterable[tuple[int, str, str]]:
    ages = sorted((m.start("v"), m.group("v")) for pattern in _AGE for m in pattern.finditer(text))
    if ages:
        yield ages[0][0], "age", ages[0][1]
    if build := _first(_word_table_spans(text, _BUILD)):
        yield build[0], "build", build[1]
    if weather and (w := _first(_word_table_spans(text, _WEATHER))):
        yield w[0], "weather", w[1]


def _mark_kind(value: str) -> str | None:
    return _lookup(value, _MARK_KINDS)


def _find_word(folded: str, word: str) -> int:
    """Position of a whole word (or a part of a hyphenated one: 'long-haired'), else -1."""
    if _CJK.match(word):
        return folded.find(word)
    m = re.search(rf"(?<![\w']){re.escape(word)}(?![\w'])", folded)
    return m.start() if m else -1


# --- public API -------------------------------------------------------------------------


def extract_attributes(text: str, *, kind: str = "character") -> dict[str, str]:
    """Canonical slot -> value as written, first mention wins.

    'MEI (20s), in a red bomber jacket with short black hair' -> {'age': '20s', 'jacket': 'red bomber
    jacket', 'hair': 'short black hair'}. A second mark of another kind gets 'marks:<kind>'. With
    kind='location' the weather is read too ('weather': 'rain-slicked').
    """
    if not text or not text.strip():
        return {}
    spans = sorted([*_latin_spans(text), *_zh_spans(text), *_simple_spans(text, kind == "location")])
    out: dict[str, str] = {}
    marks: set[str | None] = set()
    for _, slot, value in spans:
        value = value.strip()
        if slot in {"hair", "eyes"} and not value_facets(slot, value):
            continue  # 'her hair whips in the wind' says nothing about how it looks
        if slot == "marks":
            mk = _mark_kind(value)
            if mk in marks:
                continue
            slot = "marks" if not marks else f"marks:{mk}"
            marks.add(mk)
        out.setdefault(slot, value)
    return out


def _slot_base(slot: str) -> str:
    return slot.split(":", 1)[0]


def _head_span(slot: str, value: str) -> tuple[int, int]:
    """Where the noun of a value sits, so the colour nearest to it wins ('red shirt, blue tie')."""
    zh = _HEADS.get(slot, ([], []))[1]
    for h in zh:
        pos = value.find(h)
        if pos >= 0:
            return pos, pos + len(h)
    toks = _tokens(value)
    for i in range(len(toks)):
        found = _head_at(toks, i)
        if found and (found[0] == slot or slot not in _HEADS):
            return toks[i].start, toks[i + found[1] - 1].end
    return len(value), len(value)


def _color_hits(value: str) -> list[tuple[int, int, str]]:
    hits: list[tuple[int, int, str]] = []
    for tok in _tokens(value):
        parts = [tok.key, *reversed(tok.key.split("-"))]
        family = next((_COLOR_WORD[p] for p in parts if p in _COLOR_WORD), None)
        if family:
            hits.append((tok.start, tok.end, family))
    taken: list[tuple[int, int]] = []
    for family, word in sorted(((f, w) for f, ws in _COLOR_ZH.items() for w in ws), key=lambda p: -len(p[1])):
        for m in re.finditer(re.escape(word), value):
            if not any(a < m.end() and m.start() < b for a, b in taken):
                taken.append((m.start(), m.end()))
                hits.append((m.start(), m.end(), family))
    return hits


def _nearest_color(slot: str, value: str) -> str | None:
    hits = _color_hits(value)
    if not hits:
        return None
    hs, he = _head_span(slot, value)

    def distance(hit: tuple[int, int, str]) -> int:
        start, end, _ = hit
        return hs - end if end <= hs else max(0, start - he)

    return min(hits, key=lambda h: (distance(h), h[0]))[2]


def _lookup(value: str, table: dict[str, list[str]]) -> str | None:
    """The first (leftmost) lexicon word of `table` in value, as its canonical key."""
    folded = _fold(value)
    hits: list[tuple[int, int, str]] = []
    for key, words in table.items():
        for w in words:
            pos = _find_word(folded, w)
            if pos >= 0:
                hits.append((pos, -len(w), key))
    return min(hits)[2] if hits else None


def _length(value: str) -> str | None:
    folded = _fold(value)
    if any(cut in folded for cut in ("buzz cut", "crew cut", "pixie cut", "crewcut", "buzzcut")):
        return "short"
    if "shaved head" in folded or "crane rase" in folded:
        return "bald"
    return _lookup(value, _LENGTH_LATIN) or _lookup(value, _LENGTH_ZH)


def value_facets(slot: str, value: str) -> dict[str, str]:
    """Comparable facets of a value: colour family, length, age decade, mark kind/side/place, build.

    Shades and synonyms land on the same facet: crimson, 深红 and bordeaux are all 'red'.
    """
    base = _slot_base(slot)
    if base == "age":
        decade = age_decade(value)
        return {} if decade is None else {"age_decade": str(decade)}
    if base == "build":
        build = _lookup(value, _BUILD)
        return {"build": build} if build in {"thin", "heavy"} else {}
    if base == "weather":
        weather = _lookup(value, _WEATHER)
        return {"weather": weather} if weather else {}
    facets: dict[str, str] = {}
    if color := _nearest_color(base if base in _HEADS else slot, value):
        facets["color"] = color
    if length := _length(value):
        facets["length"] = length
    if base == "marks":
        for name, table in (("side", _SIDES), ("place", _PLACES)):
            if hit := _lookup(value, table):
                facets[name] = hit
        if mark := _mark_kind(value):
            facets["mark"] = mark
    return facets


def _same_color(slot: str, a: str, b: str) -> bool:
    groups = _HAIR_COLOR_SAME if _slot_base(slot) in {"hair"} else _COLOR_SAME
    return a == b or any(a in g and b in g for g in groups)


def differing_facets(slot: str, bible_value: str, shot_value: str) -> list[str]:
    """The facets on which two values of the same slot contradict each other; [] when compatible.

    Only facets both values state are compared: 'jacket' never contradicts 'red jacket'. Lengths
    one step apart (short vs shoulder-length) are close enough; marks of different kinds are
    different marks, not a contradiction.
    """
    a, b = value_facets(slot, bible_value), value_facets(slot, shot_value)
    if "mark" in a and "mark" in b and a["mark"] != b["mark"]:
        return []
    out = []
    for facet in sorted(set(a) & set(b) - {"mark"}):
        x, y = a[facet], b[facet]
        if facet == "color" and _same_color(slot, x, y):
            continue
        if facet == "length" and abs(_LENGTH_RANK[x] - _LENGTH_RANK[y]) < 2:
            continue
        if x != y:
            out.append(facet)
    return out


def color_hex(family: str) -> str:
    """The '#rrggbb' drawn for a colour family."""
    try:
        return _HEX[family]
    except KeyError:
        raise ValueError(
            f"unknown colour family {family!r}; use one of {', '.join(COLOR_FAMILIES)}"
        ) from None


def display_color(name: str, attributes: dict[str, str]) -> str:
    """A stable colour for a character: their most visible garment's, else one picked by name.

    sha256, not hash(): Python salts str hashes per process, and the colour must survive restarts.
    """
    for slot in _VISIBLE_SLOTS:
        if slot in attributes and (family := value_facets(slot, attributes[slot]).get("color")):
            return color_hex(family)
    digest = hashlib.sha256(name.strip().casefold().encode("utf-8")).digest()
    return _PALETTE[int.from_bytes(digest[:4], "big") % len(_PALETTE)]


def slot_of(item: str, *, kind: str = "character") -> str | None:
    """The slot a word names: 'jacket' -> 'jacket', '雨衣' -> 'jacket', 'hair' -> 'hair'."""
    if is_slot(item):
        return item
    found = extract_attributes(item, kind=kind) or extract_attributes(f"a red {item}", kind=kind)
    return next(iter(found), None)


def restyle(slot: str, value: str, change: str) -> str:
    """`value` with `change` applied: a colour change recolours the garment nearest its noun and keeps
    the rest ('yellow rain jacket' + 'red' -> 'red rain jacket'); anything else replaces the value."""
    families = {f for _, _, f in _color_hits(change)}
    is_colour_only = families and not _length(change) and len(_tokens(change)) <= 2
    if is_colour_only:
        hits = _color_hits(value)
        if hits:
            hs, _he = _head_span(_slot_base(slot), value)
            start, end, _ = min(hits, key=lambda h: (abs(hs - h[1]), h[0]))
            if value[end : end + 1] == "色" and change.strip().endswith("色"):
                end += 1  # 黄色 -> 红色, not 红色色
            return value[:start] + change.strip() + value[end:]
        if value.strip():  # 'jacket' + 'red' -> 'red jacket'
            zh = bool(re.search(r"[\u4e00-\u9fff]", value))
            return f"{change.strip()}{'' if zh else ' '}{value.strip()}"
    return change.strip()
