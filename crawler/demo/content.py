"""The demo portal's content: articles generated deterministically from a seed.

Everything the pages show comes from the :class:`Article` records built here, and the
ground truth (``DemoPortal.articles``) is read from the same records, never from the
extractor.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# --------------------------------------------------------------------------- sites
MAIN_PREFIX = ""
SUB_PREFIX = "/congdoan"

# (code, label, pagination kind)
MAIN_CATEGORIES = [
    ("Tintrongtinh", "Tin trong tỉnh", "get"),
    ("Tinhoatdong", "Tin hoạt động", "postback"),
    ("Thongbao", "Thông báo", "more"),
    ("Vanban", "Văn bản chỉ đạo", "get"),
]
SUB_CATEGORIES = [("Tinhoatdong", "Hoạt động Công đoàn", "get")]
CATEGORY_WEIGHTS = [0.40, 0.30, 0.18, 0.12]

# --------------------------------------------------------------------------- phrase bank
DISTRICTS = [
    "Yên Bình", "Hòa An", "Đồng Tâm", "Thạch Lâm", "Phú Lương", "Ngân Sơn", "Lạc Thủy",
    "Tân Kỳ", "Sơn Dương", "Xuân Trường", "Bảo Yên",
]
SCHOOL_NAMES = [
    "Chu Văn An", "Lê Quý Đôn", "Nguyễn Trãi", "Trần Hưng Đạo", "Phan Bội Châu",
    "Hùng Vương", "Lý Tự Trọng", "Võ Thị Sáu", "Nguyễn Du", "Hoàng Văn Thụ", "Kim Đồng",
    "Ngô Quyền",
]
SCHOOL_LEVELS = [
    "Trường Mầm non", "Trường Tiểu học", "Trường THCS", "Trường THPT",
    "Trường PTDTNT THCS", "Trường Phổ thông Dân tộc bán trú Tiểu học",
]
PEOPLE = [
    ("Nguyễn Văn Hùng", "Giám đốc Sở GD&ĐT"),
    ("Hoàng Thị Lan", "Phó Giám đốc Sở GD&ĐT"),
    ("Lục Văn Thắng", "Phó Chủ tịch UBND tỉnh"),
    ("Triệu Thị Mai", "Trưởng phòng Giáo dục Trung học"),
    ("Đặng Quốc Khánh", "Chánh Văn phòng Sở"),
    ("Nông Đức Thịnh", "Trưởng phòng Giáo dục Mầm non"),
    ("Bế Văn Toàn", "Phó Trưởng ban Tuyên giáo Tỉnh ủy"),
    ("Phùng Thị Ngọc", "Trưởng phòng Giáo dục Tiểu học"),
    ("Lương Minh Đức", "Chánh Thanh tra Sở"),
    ("Hà Thị Thu Hằng", "Phó Chủ tịch Công đoàn ngành Giáo dục"),
]
TOPICS = [
    "công tác chuyển đổi số trong giáo dục",
    "đổi mới phương pháp dạy học theo Chương trình giáo dục phổ thông 2018",
    "công tác tuyển sinh vào lớp 10 trung học phổ thông",
    "kỳ thi tốt nghiệp trung học phổ thông",
    "phổ cập giáo dục, xóa mù chữ",
    "giáo dục STEM trong trường phổ thông",
    "xây dựng trường học an toàn, phòng chống tai nạn thương tích",
    "phòng, chống đuối nước cho học sinh",
    "xây dựng trường đạt chuẩn quốc gia",
    "bồi dưỡng học sinh giỏi cấp tỉnh",
    "công tác y tế trường học",
    "giáo dục hướng nghiệp và phân luồng học sinh",
    "ứng dụng công nghệ thông tin trong quản lý",
    "dạy và học ngoại ngữ",
    "giáo dục kỹ năng sống cho học sinh",
    "kiểm định chất lượng giáo dục",
    "tăng cường tiếng Việt cho trẻ em người dân tộc thiểu số",
    "đánh giá học sinh theo Thông tư 22/2021/TT-BGDĐT",
    "thực hiện chế độ, chính sách đối với nhà giáo",
    "giáo dục thể chất và hoạt động thể thao trường học",
]
EVENTS = [
    "Hội nghị tổng kết", "Hội nghị triển khai", "Hội thảo chuyên đề về", "Tập huấn",
    "Hội nghị sơ kết", "Hội nghị trực tuyến về", "Chuyên đề", "Hội nghị chuyên đề về",
    "Lớp bồi dưỡng về",
]
CONTESTS = [
    "Cuộc thi Khoa học kỹ thuật dành cho học sinh trung học",
    "Hội thi giáo viên dạy giỏi cấp tỉnh",
    "Kỳ thi chọn học sinh giỏi lớp 9",
    "Hội khỏe Phù Đổng",
    "Cuộc thi Tìm hiểu pháp luật trong trường học",
    "Giải Bóng đá học sinh",
    "Cuộc thi Viết thư quốc tế UPU",
    "Hội thi Tin học trẻ",
]
ACTIVITIES = [
    "chương trình ngoại khóa", "tiết học trải nghiệm", "buổi sinh hoạt chuyên môn",
    "hoạt động văn nghệ chào mừng", "buổi thực hành thí nghiệm", "giờ đọc sách tại thư viện",
    "buổi tuyên truyền pháp luật", "phong trào Kế hoạch nhỏ",
]
DEPTS = ["GDTrH", "GDMN", "GDTH", "VP", "KHTC", "TCCB", "TTr"]
BYLINES = [
    "Ngọc Tú", "Hồng Hà", "Thanh Tuyền", "Minh Châu", "Tin, ảnh: Hoàng Anh",
    "Bài, ảnh: Lan Hương", "Văn phòng Sở", "Phòng GDTrH", "Thu Trang - Đức Minh",
    "Nguyễn Thị Hạnh (Trường THCS Chu Văn An)", "Tin, ảnh: Quốc Việt", "Mai Phương",
    "Đức Thắng - Ngọc Ánh", "Phòng GD&ĐT Hòa An",
]
SUB_BYLINES = ["Công đoàn ngành Giáo dục", "Thu Hằng", "Ban Nữ công", "Tin, ảnh: Đình Nam"]
SOURCES = [
    "Báo Demo điện tử", "Cổng Thông tin điện tử tỉnh Demo", "moet.gov.vn",
    "Bộ Giáo dục và Đào tạo", "Báo Giáo dục và Thời đại",
]


def school(rng: random.Random) -> str:
    return f"{rng.choice(SCHOOL_LEVELS)} {rng.choice(SCHOOL_NAMES)}"


def school_year(when: datetime) -> str:
    y = when.year if when.month >= 8 else when.year - 1
    return f"{y} - {y + 1}"


def day_phrase(rng: random.Random, when: datetime) -> str:
    d = when - timedelta(days=rng.choice([0, 0, 1, 1, 2]))
    part = rng.choice(["Sáng ngày", "Chiều ngày", "Ngày", "Ngày", "Sáng"])
    if rng.random() < 0.5:
        return f"{part} {d.day}/{d.month}"
    return f"{part} {d.day}/{d.month}/{d.year}"


def lower_first(s: str) -> str:
    return s[:1].lower() + s[1:]


def upper_first(s: str) -> str:
    return s[:1].upper() + s[1:]


# --------------------------------------------------------------------------- model
@dataclass
class Image:
    path: str
    caption: str | None
    after: int  # shown after this many body paragraphs
    layout: str  # "p", "table", "div", "bare"


@dataclass
class Attachment:
    path: str
    name: str  # link text
    kind: str  # "pdf" | "docx"
    title: str  # text inside the generated file


@dataclass
class Article:
    item_id: int
    prefix: str  # "" (main site) or SUB_PREFIX
    categories: list[str]
    when: datetime
    show_time: bool
    title: str
    lead: str
    paragraphs: list[str]
    images: list[Image] = field(default_factory=list)
    byline: str | None = None
    source: str | None = None
    source_first: bool = False  # "Nguồn:" line shown before the byline
    attachments: list[Attachment] = field(default_factory=list)
    status: str = "ok"  # ok | fail_once | always_500 | missing | slow | deleted
    nfd: bool = False
    style: int = 0  # markup variant
    views: int = 0
    modified: datetime | None = None  # last edit (the later state); Last-Modified

    @property
    def category(self) -> str:
        return self.categories[0]

    @property
    def date_text(self) -> str:
        s = self.when.strftime("%d/%m/%Y")
        return s + self.when.strftime(" %H:%M") if self.show_time else s

    @property
    def published(self) -> str:
        if self.show_time:
            return self.when.strftime("%Y-%m-%dT%H:%M:00+07:00")
        return self.when.strftime("%Y-%m-%d")

    def path(self, category: str | None = None) -> str:
        cat = category or self.category
        return (f"{self.prefix}/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx"
                f"?ItemID={self.item_id}&l={cat}&lv=11")


# --------------------------------------------------------------------------- generation
def _story(rng: random.Random, cat: str, when: datetime, sub: bool) -> tuple[str, str, dict]:
    """Title, lead and the context the body paragraphs draw on, told about one event."""
    sy = school_year(when)
    topic = rng.choice(TOPICS)
    name, role = person = rng.choice(PEOPLE)
    dp = day_phrase(rng, when)
    n = rng.randint(40, 260)
    ctx = {"topic": topic, "person": person, "sy": sy, "event": "hội nghị"}
    attend = (f"Tham dự có đồng chí {name}, {role}; cùng {n} đại biểu là cán bộ quản lý, "
              f"giáo viên các trường học trên địa bàn.")
    if sub:
        kind = rng.randrange(5)
        d, sch = rng.choice(DISTRICTS), school(rng)
        if kind == 0:
            ev = rng.choice(["Hội nghị", "Tập huấn", "Hội thảo"])
            ctx["event"] = lower_first(ev)
            ctx["training"] = True
            title = f"Công đoàn ngành Giáo dục tổ chức {ev} về {topic}"
            lead = (f"{dp}, Công đoàn ngành Giáo dục tỉnh Demo đã tổ chức {lower_first(ev)} về "
                    f"{topic} cho {n} cán bộ công đoàn cơ sở. {attend.split(';')[0]}.")
        elif kind == 1:
            ctx["event"] = "chuyến thăm"
            title = f"Công đoàn ngành Giáo dục thăm, tặng quà giáo viên vùng khó khăn huyện {d}"
            lead = (f"{dp}, đoàn công tác của Công đoàn ngành Giáo dục do đồng chí {name}, {role} "
                    f"làm trưởng đoàn đã đến thăm, tặng {n} suất quà cho giáo viên các điểm trường "
                    f"vùng khó khăn huyện {d}.")
        elif kind == 2:
            ctx["event"] = "hội thi"
            title = f"Hội thi \"Giáo viên nữ duyên dáng, tài năng\" năm học {sy}"
            lead = (f"{dp}, Công đoàn ngành Giáo dục tỉnh Demo tổ chức Hội thi \"Giáo viên nữ duyên "
                    f"dáng, tài năng\" năm học {sy} với sự tham gia của {n % 40 + 12} thí sinh đến "
                    f"từ các công đoàn cơ sở trực thuộc.")
        elif kind == 3:
            ctx["event"] = "hội nghị tổng kết"
            title = (f"Công đoàn ngành Giáo dục tổng kết phong trào thi đua \"Giỏi việc trường, "
                     f"đảm việc nhà\" năm học {sy}")
            lead = (f"{dp}, Công đoàn ngành Giáo dục tỉnh Demo tổ chức hội nghị tổng kết phong trào "
                    f"thi đua \"Giỏi việc trường, đảm việc nhà\" năm học {sy}. {attend}")
        else:
            ctx["event"] = "đại hội"
            title = f"Đại hội Công đoàn cơ sở {sch} nhiệm kỳ {when.year} - {when.year + 5}"
            lead = (f"{dp}, Công đoàn cơ sở {sch} tổ chức Đại hội lần thứ {rng.randint(3, 9)}, "
                    f"nhiệm kỳ {when.year} - {when.year + 5}. Đại hội đã bầu Ban Chấp hành gồm "
                    f"{rng.randint(3, 7)} đồng chí.")
        return title, lead, ctx
    if cat == "Thongbao":
        contest = rng.choice(CONTESTS)
        kind = rng.randrange(5)
        ctx["event"] = "kỳ thi" if kind in (0, 4) else "đợt tuyển sinh" if kind == 3 else "hội nghị"
        title = [
            f"Thông báo về việc tổ chức {contest} năm học {sy}",
            f"Thông báo lịch tiếp công dân của Giám đốc Sở GD&ĐT tháng {when.month}/{when.year}",
            f"Thông báo kết quả xét tuyển viên chức giáo dục năm {when.year}",
            f"Thông báo tuyển sinh vào lớp 10 trường THPT {rng.choice(SCHOOL_NAMES)} năm học {sy}",
            f"Thông báo danh sách thí sinh đạt giải {contest}",
        ][kind]
        lead = (f"Sở GD&ĐT thông báo tới các phòng GD&ĐT, các đơn vị trực thuộc nội dung liên quan "
                f"đến {lower_first(title.removeprefix('Thông báo ').removeprefix('về việc '))}; đề nghị "
                f"các đơn vị nghiêm túc triển khai thực hiện.")
        return title, lead, ctx
    if cat == "Vanban":
        num = rng.randint(120, 3400)
        ctx.update(event="văn bản", number=num)
        title = rng.choice([
            f"Công văn số {num}/SGDĐT-{rng.choice(DEPTS)} về việc hướng dẫn {topic}",
            f"Kế hoạch số {num}/KH-SGDĐT triển khai {topic} năm học {sy}",
            f"Quyết định số {num}/QĐ-SGDĐT ban hành quy chế về {topic}",
            f"Hướng dẫn thực hiện nhiệm vụ {topic} năm học {sy}",
        ])
        lead = (f"Sở Giáo dục và Đào tạo (GD&ĐT) ban hành văn bản hướng dẫn các đơn vị, trường học "
                f"trên địa bàn tỉnh triển khai {topic} năm học {sy}.")
        return title, lead, ctx
    event = rng.choice(EVENTS)
    ev = lower_first(event)
    ctx["event"] = ev.removesuffix(" về")
    ctx["training"] = True
    d, sch, contest = rng.choice(DISTRICTS), school(rng), rng.choice(CONTESTS)
    org = rng.choice(["Sở Giáo dục và Đào tạo", f"Phòng GD&ĐT {d}"])
    kind = rng.randrange(7)
    if kind == 0:
        title = f"{org} tổ chức {ev} {topic} năm học {sy}"
        who = "Sở Giáo dục và Đào tạo (GD&ĐT)" if org.startswith("Sở") else f"Phòng GD&ĐT huyện {d}"
        lead = f"{dp}, {who} đã tổ chức {ev} {topic}. {attend}"
    elif kind == 1:
        title = f"{event} {topic} năm học {sy}"
        lead = f"{dp}, Sở GD&ĐT tổ chức {ev} {topic} năm học {sy}. {attend}"
    elif kind == 2:
        ctx["event"] = "đợt kiểm tra"
        ctx["training"] = False
        title = f"Đoàn công tác của Sở GD&ĐT kiểm tra {topic} tại huyện {d}"
        lead = (f"{dp}, Đoàn công tác của Sở GD&ĐT do đồng chí {name}, {role} làm trưởng đoàn đã "
                f"kiểm tra {topic} tại một số trường học trên địa bàn huyện {d}.")
    elif kind == 3:
        ctx["event"] = "lễ tổng kết"
        ctx["training"] = False
        title = f"Tổng kết {contest} năm học {sy}"
        lead = (f"{dp}, Sở GD&ĐT tổ chức Lễ tổng kết và trao giải {contest} năm học {sy}. {attend}")
    elif kind == 4:
        ctx["event"] = "kỳ thi"
        ctx["training"] = False
        title = f"{n} học sinh đạt giải tại {contest} năm học {sy}"
        lead = (f"Sở GD&ĐT vừa công bố kết quả {contest} năm học {sy}; toàn tỉnh có {n} học sinh "
                f"đạt giải, trong đó có {n // 12 + 1} giải Nhất, {n // 5} giải Nhì.")
    elif kind == 5:
        act = rng.choice(ACTIVITIES)
        ctx["event"] = act
        ctx["training"] = False
        title = f"{sch} tổ chức {act} về {topic}"
        lead = f"{dp}, {sch} đã tổ chức {act} về {topic} cho {n * 3} học sinh toàn trường."
    else:
        title = f"Đồng chí {name}, {role} dự {ev} {topic}"
        lead = (f"{dp}, đồng chí {name}, {role} đã dự và chỉ đạo {ev} {topic} do {org} "
                f"tổ chức. Cùng dự có {n} đại biểu là cán bộ quản lý, giáo viên các trường học.")
    if rng.random() < 0.12:
        lead = "(Cổng TTĐT) " + lead
    return title, lead, ctx


def _paragraph(rng: random.Random, ctx: dict, when: datetime, sub: bool) -> str:
    name, role = rng.choice(PEOPLE)
    topic = ctx["topic"]
    sy = ctx["sy"]
    n1, n2, n3 = rng.randint(12, 480), rng.randint(3, 95), rng.randint(1200, 68000)
    pct = f"{rng.randint(62, 99)},{rng.randint(1, 9)}"
    d = rng.choice(DISTRICTS)
    options = [
        (f"Theo báo cáo, năm học {sy}, toàn tỉnh có {n1} trường học với hơn {n3} học sinh; "
         f"tỷ lệ trường đạt chuẩn quốc gia đạt {pct}%, tăng {n2 % 9 + 1} trường so với năm học trước."),
        (f"Năm học {sy}, ngành Giáo dục tỉnh Demo tiếp tục thực hiện {topic}, tập trung nâng cao "
         f"chất lượng giáo dục toàn diện, chú trọng giáo dục đạo đức, lối sống và kỹ năng cho học sinh."),
        (f"Phát biểu chỉ đạo, đồng chí {name}, {role} ghi nhận, biểu dương những kết quả mà các đơn vị "
         f"đã đạt được; đồng thời đề nghị các trường tiếp tục quán triệt, triển khai đồng bộ các giải pháp, "
         f"khắc phục những hạn chế đã chỉ ra."),
        (f"Bên cạnh những kết quả đạt được, công tác {topic} vẫn còn một số khó khăn, hạn chế như: "
         f"cơ sở vật chất ở một số trường vùng sâu, vùng xa còn thiếu; đội ngũ giáo viên chưa đồng bộ "
         f"về cơ cấu bộ môn; việc ứng dụng công nghệ thông tin ở một số đơn vị còn lúng túng."),
        (f"Các đại biểu đã tập trung thảo luận, chia sẻ kinh nghiệm và đề xuất nhiều giải pháp thiết "
         f"thực nhằm nâng cao hiệu quả {topic} trong thời gian tới."),
        (f"Kết thúc chương trình, Ban Tổ chức đã trao Giấy khen cho {n2} tập thể và {n1} cá nhân có "
         f"thành tích xuất sắc trong {topic} năm học {sy}."),
        (f"Tại huyện {d}, {n2} trường học đã hoàn thành việc rà soát, bổ sung kế hoạch giáo dục nhà "
         f"trường; {pct}% giáo viên được bồi dưỡng chuyên môn, nghiệp vụ theo quy định."),
        (f"Đồng chí {name}, {role} nhấn mạnh: \u201cMỗi cán bộ quản lý, giáo viên cần nêu cao tinh thần "
         f"trách nhiệm, chủ động đổi mới, sáng tạo để thực hiện thắng lợi nhiệm vụ năm học.\u201d"),
        (f"Dịp này, {school(rng)} đã giới thiệu mô hình {rng.choice(ACTIVITIES)} gắn với {topic}, "
         f"thu hút đông đảo học sinh và cha mẹ học sinh tham gia."),
        (f"Sở GD&ĐT yêu cầu thủ trưởng các đơn vị chỉ đạo, hướng dẫn cán bộ, giáo viên thực hiện "
         f"nghiêm túc các nội dung trên; trong quá trình thực hiện, nếu có vướng mắc, phản ánh về Sở "
         f"(qua phòng {rng.choice(DEPTS)}) để được hướng dẫn, giải quyết."),
        (f"Thời gian thực hiện từ ngày {when.day}/{when.month}/{when.year} đến hết ngày "
         f"{(when + timedelta(days=rng.randint(10, 60))).strftime('%d/%m/%Y')}; các đơn vị gửi báo cáo "
         f"kết quả về Sở GD&ĐT trước ngày {(when + timedelta(days=70)).strftime('%d/%m/%Y')}."),
        (f"Được biết, trong những năm qua, phong trào thi đua \u201cDạy tốt, học tốt\u201d tại huyện {d} "
         f"đã có nhiều chuyển biến tích cực; chất lượng giáo dục mũi nhọn từng bước được nâng lên, "
         f"số học sinh đạt giải cấp tỉnh năm sau cao hơn năm trước."),
    ]
    if ctx.get("training"):
        options.append(
            f"Trong thời gian diễn ra {ctx['event']}, các học viên được nghe báo cáo viên "
            f"trình bày các chuyên đề về {topic}, thực hành xây dựng kế hoạch bài dạy và trao đổi về "
            f"những vướng mắc trong quá trình triển khai tại cơ sở.")
    if sub:
        options += [
            (f"Năm học {sy}, Công đoàn ngành Giáo dục đã phối hợp với chuyên môn tổ chức tốt các phong "
             f"trào thi đua; thăm hỏi, hỗ trợ {n2} đoàn viên có hoàn cảnh khó khăn với tổng số tiền "
             f"hơn {n1} triệu đồng."),
            (f"Chương trình nhằm tôn vinh, động viên đội ngũ nhà giáo, người lao động, đặc biệt là các "
             f"thầy cô giáo đang công tác tại các điểm trường vùng cao huyện {d}."),
        ]
    return rng.choice(options)


def _caption(rng: random.Random, ctx: dict) -> str:
    name, role = rng.choice(PEOPLE)
    return rng.choice([
        f"Đồng chí {name}, {role} phát biểu tại {ctx['event']}",
        f"Toàn cảnh {ctx['event']}",
        "Đại biểu dự hội nghị tại Sở GD&ĐT",
        f"Các em học sinh {school(rng)} trong {rng.choice(ACTIVITIES)}",
        "Ban Tổ chức trao giải cho các thí sinh đạt giải cao",
        f"Quang cảnh {rng.choice(ACTIVITIES)} tại huyện {rng.choice(DISTRICTS)}",
        f"Đoàn công tác kiểm tra cơ sở vật chất tại {school(rng)}",
        "Các đại biểu chụp ảnh lưu niệm",
    ])


def _hex(seed: int, *parts) -> str:
    return hashlib.sha1(("|".join(map(str, (seed, *parts)))).encode()).hexdigest()


def generate(n_articles: int, seed: int) -> tuple[list[Article], Article]:
    """All articles of both sites (good and broken), oldest first, plus the 404 phantom.

    ``n_articles`` articles end up archivable; two more answer 500 forever.
    """
    if n_articles < 20:
        raise ValueError("the demo portal needs n_articles >= 20")
    rng = random.Random(f"demo-portal-{seed}")
    n_sub = max(4, round(n_articles * 0.12))
    n_main = n_articles - n_sub + 2  # + two always-500 pages
    start = datetime(2019, 1, 2, 7, 0)
    span = (datetime(2024, 12, 28, 17, 0) - start).total_seconds()

    def times(n: int) -> list[datetime]:
        out = []
        for _ in range(n):
            t = start + timedelta(seconds=rng.random() * span)
            t = t.replace(hour=rng.randint(7, 17), minute=rng.choice(range(0, 60, 5)), second=0)
            out.append(t)
        return sorted(out)

    articles: list[Article] = []
    item = 26000 + rng.randint(0, 400)
    gaps = []
    cat_codes = [c for c, _, _ in MAIN_CATEGORIES]
    for when in times(n_main):
        step = rng.choice([1, 1, 1, 2, 3])
        if step > 1:
            gaps.append(item + 1)
        item += step
        cats = [rng.choices(cat_codes, CATEGORY_WEIGHTS)[0]]
        if rng.random() < 0.25:
            cats.append(rng.choice([c for c in cat_codes if c != cats[0]]))
        articles.append(_article(rng, seed, item, MAIN_PREFIX, cats, when))
    item = 1000 + rng.randint(0, 50)
    for when in times(n_sub):
        item += rng.choice([1, 1, 2])
        articles.append(_article(rng, seed, item, SUB_PREFIX, ["Tinhoatdong"], when))

    main = [a for a in articles if a.prefix == MAIN_PREFIX]
    # Special pages, spread over the categories (recent enough to be on early listing pages).
    by_cat = {c: [a for a in main if a.category == c and len(a.categories) == 1] for c in cat_codes}
    picks: list[Article] = []

    def pick(cat: str) -> Article:
        pool = [a for a in by_cat[cat] if a not in picks] or [a for a in main if a not in picks]
        a = rng.choice(pool)
        picks.append(a)
        return a

    pick("Tintrongtinh").status = "always_500"
    pick("Tinhoatdong").status = "always_500"
    pick("Tintrongtinh").status = "fail_once"
    pick("Tinhoatdong").status = "fail_once"
    pick("Thongbao").status = "fail_once"
    pick("Tintrongtinh").status = "slow"

    # The 404: a deleted item still teased on a listing (an ItemID in a gap).
    gap_id = rng.choice(gaps) if gaps else articles[-1].item_id + 7
    when = start + timedelta(seconds=rng.random() * span)
    phantom = _article(rng, seed, gap_id, MAIN_PREFIX, ["Tintrongtinh"],
                       when.replace(second=0, microsecond=0))
    phantom.status = "missing"
    return articles, phantom


def _article(rng: random.Random, seed: int, item_id: int, prefix: str, cats: list[str],
             when: datetime) -> Article:
    sub = prefix == SUB_PREFIX
    cat = cats[0]
    title, lead, ctx = _story(rng, cat, when, sub)
    n_par = rng.randint(3, 8)
    paragraphs: list[str] = []
    while len(paragraphs) < n_par:
        p = _paragraph(rng, ctx, when, sub)
        if p not in paragraphs:
            paragraphs.append(p)
    n_img = rng.choices([0, 1, 2, 3], [0.25, 0.35, 0.25, 0.15])[0]
    if cat in ("Vanban", "Thongbao"):
        n_img = min(n_img, 1)
    images = []
    for i in range(n_img):
        if rng.random() < 0.5:
            folder = f"{prefix}/noidung/tintuc/PublishingImages/{when.year}/{when.month:02d}"
            path = f"{folder}/{item_id}-anh-{i + 1}.jpg"
        else:
            path = f"{prefix}/PictureLibrary/{_hex(seed, item_id, i)[:6]}/image{i * 2 + 1:03d}.jpg"
        caption = _caption(rng, ctx) if rng.random() < 0.88 else None
        # an image is never the last thing of the body (a source line must not read as a caption)
        after = rng.randint(0, max(0, n_par - 1))
        layout = rng.choice(["p", "p", "table", "div"]) if caption else "bare"
        images.append(Image(path, caption, after, layout))
    images.sort(key=lambda im: im.after)
    byline = None
    if rng.random() < 0.88:
        byline = rng.choice(SUB_BYLINES if sub else BYLINES)
    source = rng.choice(SOURCES) if rng.random() < 0.2 else None
    attachments = []
    n_att = 0
    if cat == "Vanban":
        n_att = rng.choices([0, 1, 2], [0.1, 0.6, 0.3])[0]
    elif cat == "Thongbao" or rng.random() < 0.08:
        n_att = rng.choices([0, 1], [0.5, 0.5])[0]
    for i in range(n_att):
        kind = "pdf" if i == 0 and rng.random() < 0.75 else "docx"
        num = ctx.get("number", rng.randint(100, 3000))
        if i == 0:
            name = rng.choice([
                f"Văn bản số {num}/SGDĐT-{rng.choice(DEPTS)}",
                f"Kế hoạch số {num}/KH-SGDĐT",
                f"Thông báo số {num}/TB-SGDĐT",
            ])
            fname = f"{num}-SGDDT-{when.strftime('%d%m%Y')}.{kind}"
        else:
            name = rng.choice(["Phụ lục kèm theo", "Mẫu báo cáo", "Danh sách kèm theo"])
            fname = f"Phu-luc-{num}.{kind}"
        if rng.random() < 0.2:
            name = fname  # link text is the file name
        path = f"{prefix}/noidung/tintuc/Lists/TinTuc/Attachments/{item_id}/{fname}"
        attachments.append(Attachment(path, name, kind, title))
    return Article(
        item_id=item_id, prefix=prefix, categories=cats, when=when,
        show_time=rng.random() < 0.35, title=title, lead=lead, paragraphs=paragraphs,
        images=images, byline=byline, source=source,
        source_first=bool(byline and source and rng.random() < 0.3),
        attachments=attachments, nfd=rng.random() < 0.05, style=rng.randint(0, 3),
        views=rng.randint(35, 4800),
    )
