//! Who the members are: Chinese names with their pinyin (for e-mail addresses), where they
//! live, and phone numbers and e-mail addresses that never collide between members.

use crate::sample::{self, DemoRng};

/// Common surnames (百家姓 by modern frequency), pinyin, relative weight.
const SURNAMES: &[(&str, &str, f64)] = &[
    ("王", "wang", 7.1),
    ("李", "li", 7.0),
    ("张", "zhang", 6.7),
    ("刘", "liu", 5.4),
    ("陈", "chen", 4.5),
    ("杨", "yang", 3.1),
    ("黄", "huang", 2.2),
    ("赵", "zhao", 2.0),
    ("吴", "wu", 1.9),
    ("周", "zhou", 1.9),
    ("徐", "xu", 1.5),
    ("孙", "sun", 1.5),
    ("马", "ma", 1.3),
    ("朱", "zhu", 1.3),
    ("胡", "hu", 1.2),
    ("郭", "guo", 1.1),
    ("何", "he", 1.0),
    ("林", "lin", 1.0),
    ("高", "gao", 1.0),
    ("罗", "luo", 0.9),
    ("郑", "zheng", 0.9),
    ("梁", "liang", 0.8),
    ("谢", "xie", 0.7),
    ("宋", "song", 0.7),
    ("唐", "tang", 0.7),
    ("许", "xu", 0.6),
    ("韩", "han", 0.6),
    ("冯", "feng", 0.6),
    ("邓", "deng", 0.6),
    ("曹", "cao", 0.5),
    ("彭", "peng", 0.5),
    ("曾", "zeng", 0.5),
    ("肖", "xiao", 0.5),
    ("田", "tian", 0.5),
    ("董", "dong", 0.5),
    ("潘", "pan", 0.4),
    ("袁", "yuan", 0.4),
    ("蔡", "cai", 0.4),
    ("蒋", "jiang", 0.4),
    ("余", "yu", 0.4),
    ("杜", "du", 0.4),
    ("叶", "ye", 0.4),
    ("程", "cheng", 0.4),
    ("魏", "wei", 0.4),
    ("苏", "su", 0.3),
    ("吕", "lv", 0.3),
    ("丁", "ding", 0.3),
    ("沈", "shen", 0.3),
    ("欧阳", "ouyang", 0.05),
    ("司马", "sima", 0.02),
];

const GIVEN_FEMALE: &[(&str, &str)] = &[
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("艳", "yan"),
    ("婷", "ting"),
    ("雪", "xue"),
    ("琳", "lin"),
    ("欣", "xin"),
    ("怡", "yi"),
    ("萱", "xuan"),
    ("涵", "han"),
    ("悦", "yue"),
    ("诗", "shi"),
    ("梦", "meng"),
    ("佳", "jia"),
    ("思", "si"),
    ("雨", "yu"),
    ("琪", "qi"),
    ("颖", "ying"),
    ("玲", "ling"),
    ("倩", "qian"),
    ("蕾", "lei"),
    ("薇", "wei"),
    ("洁", "jie"),
    ("晓", "xiao"),
    ("慧", "hui"),
];

const GIVEN_MALE: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("浩", "hao"),
    ("宇", "yu"),
    ("鹏", "peng"),
    ("辉", "hui"),
    ("俊", "jun"),
    ("博", "bo"),
    ("斌", "bin"),
    ("峰", "feng"),
    ("凯", "kai"),
    ("轩", "xuan"),
    ("睿", "rui"),
    ("泽", "ze"),
    ("志", "zhi"),
    ("建", "jian"),
    ("国", "guo"),
    ("华", "hua"),
    ("晨", "chen"),
    ("子", "zi"),
];

/// A Chinese name and its pinyin pieces.
pub struct Name {
    pub hanzi: String,
    pub surname: &'static str,
    pub given: String,
}

/// A name in the style of the gender (`None`: either).
pub fn name(rng: &mut DemoRng, female: Option<bool>) -> Name {
    let &(s_han, s_pin, _) = sample::weighted(rng, SURNAMES, |s| s.2);
    let female = female.unwrap_or_else(|| sample::chance(rng, 0.5));
    let pool = if female { GIVEN_FEMALE } else { GIVEN_MALE };
    let chars = if sample::chance(rng, 0.3) { 1 } else { 2 };
    let mut hanzi = s_han.to_owned();
    let mut given = String::new();
    for _ in 0..chars {
        let &(h, p) = sample::one_of(rng, pool);
        hanzi.push_str(h);
        given.push_str(p);
    }
    Name {
        hanzi,
        surname: s_pin,
        given,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Country {
    China,
    Singapore,
    UnitedStates,
    UnitedKingdom,
}

/// Where a member lives: the region as operators write it, and its IANA zone.
pub struct Place {
    pub region: &'static str,
    pub time_zone: &'static str,
    pub country: Country,
    weight: f64,
}

const fn cn(region: &'static str, weight: f64) -> Place {
    Place {
        region,
        time_zone: "Asia/Shanghai",
        country: Country::China,
        weight,
    }
}

/// Weighted towards the big coastal cities where member programmes are densest.
const PLACES: &[Place] = &[
    cn("上海", 9.0),
    cn("北京", 8.0),
    cn("广东省/深圳市", 8.0),
    cn("广东省/广州市", 7.0),
    cn("浙江省/杭州市", 6.0),
    cn("四川省/成都市", 5.0),
    cn("江苏省/南京市", 4.0),
    cn("江苏省/苏州市", 4.0),
    cn("湖北省/武汉市", 4.0),
    cn("重庆", 4.0),
    cn("陕西省/西安市", 3.0),
    cn("湖南省/长沙市", 3.0),
    cn("天津", 3.0),
    cn("福建省/厦门市", 2.5),
    cn("福建省/福州市", 2.0),
    cn("山东省/青岛市", 2.5),
    cn("山东省/济南市", 2.0),
    cn("河南省/郑州市", 2.5),
    cn("安徽省/合肥市", 2.0),
    cn("浙江省/宁波市", 2.0),
    cn("广东省/东莞市", 2.0),
    cn("广东省/佛山市", 2.0),
    cn("辽宁省/沈阳市", 1.5),
    cn("辽宁省/大连市", 1.5),
    cn("云南省/昆明市", 1.5),
    cn("江西省/南昌市", 1.2),
    cn("广西壮族自治区/南宁市", 1.2),
    cn("黑龙江省/哈尔滨市", 1.2),
    cn("吉林省/长春市", 1.0),
    cn("河北省/石家庄市", 1.0),
    cn("山西省/太原市", 1.0),
    cn("贵州省/贵阳市", 1.0),
    cn("海南省/海口市", 0.6),
    cn("甘肃省/兰州市", 0.6),
    cn("新疆维吾尔自治区/乌鲁木齐市", 0.5),
    cn("内蒙古自治区/呼和浩特市", 0.5),
    cn("香港", 0.8),
    Place {
        region: "新加坡",
        time_zone: "Asia/Singapore",
        country: Country::Singapore,
        weight: 2.4,
    },
    Place {
        region: "美国/加利福尼亚州/洛杉矶",
        time_zone: "America/Los_Angeles",
        country: Country::UnitedStates,
        weight: 1.4,
    },
    Place {
        region: "英国/伦敦",
        time_zone: "Europe/London",
        country: Country::UnitedKingdom,
        weight: 1.0,
    },
];

pub fn place(rng: &mut DemoRng) -> &'static Place {
    sample::weighted(rng, PLACES, |p| p.weight)
}

/// A bijection of `0..modulus` (for `modulus` a power of ten): member `i` gets a number
/// nobody else in the data set gets, yet the numbers look random.
/// `multiplier` must be coprime with ten; phones and e-mails use different ones so that
/// their digits do not repeat each other.
fn scramble(index: usize, seed: u64, modulus: u64, multiplier: u64) -> u64 {
    // With `a` coprime with every power of ten, `i ↦ a·i + b mod 10^k` is a bijection.
    let offset = (seed ^ multiplier).wrapping_mul(0x9E37_79B9_7F4A_7C15) % modulus;
    ((index as u64 % modulus) * multiplier % modulus + offset) % modulus
}

const PHONE_MIX: u64 = 7_654_321;
const EMAIL_MIX: u64 = 3_141_593;

/// A mobile number in E.164, unique per member index (below 10^7 members abroad, 10^9 in
/// China).
pub fn phone(rng: &mut DemoRng, country: Country, index: usize, seed: u64) -> String {
    match country {
        Country::China => {
            // 13x–19x are the mobile ranges.
            let second = sample::int(rng, 3, 9);
            format!(
                "+861{second}{:09}",
                scramble(index, seed, 1_000_000_000, PHONE_MIX)
            )
        }
        Country::Singapore => {
            let first = if sample::chance(rng, 0.6) { 9 } else { 8 };
            format!(
                "+65{first}{:07}",
                scramble(index, seed, 10_000_000, PHONE_MIX)
            )
        }
        Country::UnitedStates => {
            let area = sample::one_of(rng, &[213, 310, 323, 424, 626, 818]);
            format!(
                "+1{area}{:07}",
                scramble(index, seed, 10_000_000, PHONE_MIX)
            )
        }
        Country::UnitedKingdom => {
            format!("+447{:09}", scramble(index, seed, 1_000_000_000, PHONE_MIX))
        }
    }
}

const EMAIL_DOMAINS_CN: &[(&str, f64)] = &[
    ("qq.com", 34.0),
    ("163.com", 20.0),
    ("126.com", 8.0),
    ("foxmail.com", 5.0),
    ("sina.com", 4.0),
    ("icloud.com", 8.0),
    ("outlook.com", 6.0),
    ("gmail.com", 4.0),
];

const EMAIL_DOMAINS_ABROAD: &[(&str, f64)] = &[
    ("gmail.com", 45.0),
    ("outlook.com", 15.0),
    ("icloud.com", 15.0),
    ("qq.com", 10.0),
    ("163.com", 5.0),
    ("yahoo.com", 10.0),
];

/// An e-mail address unique per member index (below 10^6 members).
pub fn email(
    rng: &mut DemoRng,
    name: &Name,
    birth_year: Option<i32>,
    country: Country,
    index: usize,
    seed: u64,
) -> String {
    let domains = if country == Country::China {
        EMAIL_DOMAINS_CN
    } else {
        EMAIL_DOMAINS_ABROAD
    };
    let &(domain, _) = sample::weighted(rng, domains, |d| d.1);
    let unique = scramble(index, seed, 1_000_000, EMAIL_MIX);
    if domain == "qq.com" {
        // QQ numbers: 8–10 digits, the unique part last.
        let head = sample::int(rng, 10, 3999);
        return format!("{head}{unique:06}@qq.com");
    }
    let year = birth_year
        .map(|y| format!("{:02}", y % 100))
        .unwrap_or_default();
    let local = match sample::int(rng, 0, 3) {
        0 => format!("{}{}{year}", name.surname, name.given),
        1 => format!("{}.{}", name.given, name.surname),
        2 => format!("{}{}", name.given, name.surname),
        _ => format!("{}_{}", name.surname, name.given),
    };
    format!("{local}{unique:06}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scramble_is_a_bijection() {
        for mix in [PHONE_MIX, EMAIL_MIX] {
            let mut seen: Vec<u64> = (0..100_000).map(|i| scramble(i, 7, 100_000, mix)).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 100_000);
        }
    }
}
